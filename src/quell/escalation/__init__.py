"""Escalation: on-call schedules, escalation policies, paging, role suggestions and notifiers.

Importing the package hooks paging into the incident lifecycle (declared seams in
``quell.incidents.service``): a new incident gets its first page from the scheduler, and
leaving "triggered" stops the escalation.
"""

from quell.escalation import notify, service
from quell.incidents import service as _incidents

if service.on_incident_change not in _incidents.CHANGE_LISTENERS:
    _incidents.CHANGE_LISTENERS.append(service.on_incident_change)
if service.on_transition not in _incidents.TRANSITION_LISTENERS:
    _incidents.TRANSITION_LISTENERS.append(service.on_transition)

__all__ = ["notify", "service"]
