"""Every table of quell, imported in one place so that the metadata is complete.

Each phase keeps its tables beside its logic (``<phase>/models.py``); this module is the list.
"""

from quell.auth.models import ApiToken, User
from quell.compliance.models import ClockAnchor  # noqa: F401
from quell.detection.correlation_models import CorrelationGroup, IncidentLink  # noqa: F401
from quell.escalation.models import (  # noqa: F401
    Delivery,
    Escalation,
    EscalationPolicy,
    NotificationChannel,
    OnCallSchedule,
)
from quell.incidents.models import Incident, RoleAssignment, TimelineEvent, incident_systems
from quell.ingest.models import Alert, ChangeEvent, Integration, Payload, SignalRow  # noqa: F401
from quell.inventory.models import (
    AISystem,
    Risk,
    Team,
    TeamMember,
    risk_incidents,
    system_dependencies,
)
from quell.postmortem.models import Postmortem  # noqa: F401
from quell.remediation import guard_models  # noqa: F401  (guard tables)
from quell.remediation.action_models import ContainmentAction  # noqa: F401
from quell.scheduler import ScheduledJob  # noqa: F401
from quell.store.sections import ConfigSection  # noqa: F401

__all__ = [
    "AISystem",
    "ApiToken",
    "Incident",
    "Risk",
    "RoleAssignment",
    "Team",
    "TeamMember",
    "TimelineEvent",
    "User",
    "incident_systems",
    "risk_incidents",
    "system_dependencies",
]
