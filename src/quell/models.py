"""Every table of quell, imported in one place so that the metadata is complete.

Each phase keeps its tables beside its logic (``<phase>/models.py``); this module is the list.
"""

from quell.auth.models import ApiToken, User
from quell.compliance.models import ClockAnchor
from quell.detection.correlation_models import CorrelationGroup, IncidentLink
from quell.escalation.models import (
    Delivery,
    Escalation,
    EscalationPolicy,
    NotificationChannel,
    OnCallSchedule,
)
from quell.incidents.models import Incident, RoleAssignment, TimelineEvent, incident_systems
from quell.ingest.models import Alert, ChangeEvent, Integration, Payload, SignalRow
from quell.inventory.models import (
    AISystem,
    Risk,
    Team,
    TeamMember,
    risk_incidents,
    system_dependencies,
)
from quell.postmortem.models import Postmortem
from quell.remediation.action_models import ContainmentAction
from quell.remediation.guard_models import AgentAction, AgentContainment, AgentPolicy
from quell.scheduler import ScheduledJob
from quell.store.sections import ConfigSection

__all__ = [
    "AISystem",
    "AgentAction",
    "AgentContainment",
    "AgentPolicy",
    "Alert",
    "ApiToken",
    "ChangeEvent",
    "ClockAnchor",
    "ConfigSection",
    "ContainmentAction",
    "CorrelationGroup",
    "Delivery",
    "Escalation",
    "EscalationPolicy",
    "Incident",
    "IncidentLink",
    "Integration",
    "NotificationChannel",
    "OnCallSchedule",
    "Payload",
    "Postmortem",
    "Risk",
    "RoleAssignment",
    "ScheduledJob",
    "SignalRow",
    "Team",
    "TeamMember",
    "TimelineEvent",
    "User",
    "incident_systems",
    "risk_incidents",
    "system_dependencies",
]
