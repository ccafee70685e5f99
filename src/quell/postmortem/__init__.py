"""Postmortems: assembled from the timeline, edited by people, linked to the risk register.

Importing the package installs the close guard, so every process that knows the postmortem
tables (through ``quell.models``) also refuses to close a SEV-1/SEV-2 incident without one.
"""

from quell.incidents import service as _incidents
from quell.postmortem.guard import require_postmortem as _require_postmortem

if _require_postmortem not in _incidents.TRANSITION_GUARDS:
    _incidents.TRANSITION_GUARDS.append(_require_postmortem)
