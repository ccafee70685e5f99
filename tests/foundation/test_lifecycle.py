"""The incident state machine, roles and severity changes, at the service level."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from quell.errors import Conflict, InvalidInput
from quell.incidents import lifecycle, service


def test_every_status_is_reachable_and_closed_is_final() -> None:
    reachable = {"triggered"}
    frontier = ["triggered"]
    while frontier:
        for nxt in lifecycle.TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(lifecycle.STATUSES)
    assert lifecycle.TRANSITIONS["closed"] == frozenset()


def test_reopen_clears_resolved_at_and_keeps_first_ack(session: Session) -> None:
    inc = service.create_incident(session, actor="a", title="t", severity="SEV-2")
    service.transition(session, inc.id, "acknowledged", actor="a")
    first_ack = inc.acknowledged_at
    service.transition(session, inc.id, "resolved", actor="a")
    assert inc.resolved_at is not None
    service.transition(session, inc.id, "acknowledged", actor="a", reason="came back")
    assert inc.status == "acknowledged" and inc.resolved_at is None
    assert inc.acknowledged_at == first_ack


@pytest.mark.parametrize("start, target", [("triggered", "closed"), ("acknowledged", "triggered")])
def test_illegal_moves_raise_conflict(session: Session, start: str, target: str) -> None:
    inc = service.create_incident(session, actor="a", title="t", severity="SEV-2")
    if start != "triggered":
        service.transition(session, inc.id, start, actor="a")
    with pytest.raises(Conflict):
        service.transition(session, inc.id, target, actor="a")


def test_validation_of_vocabulary(session: Session) -> None:
    with pytest.raises(InvalidInput) as err:
        service.create_incident(session, actor="a", title="t", severity="SEV-2", archetype="aliens")
    assert err.value.field == "archetype"
    with pytest.raises(InvalidInput):
        service.create_incident(session, actor="a", title="  ", severity="SEV-2")
    inc = service.create_incident(session, actor="a", title="t", severity="SEV-2")
    with pytest.raises(InvalidInput):
        service.assign_role(session, inc.id, "king", "x", actor="a")


def test_severity_change_is_recorded_once(session: Session) -> None:
    inc = service.create_incident(session, actor="a", title="t", severity="SEV-3")
    assert service.set_severity(session, inc, "SEV-1", actor="rule", reason="latency") is True
    assert service.set_severity(session, inc, "SEV-1", actor="rule", reason="latency") is False
    from quell.incidents.timeline import events

    kinds = [e.kind for e in events(session, inc.id)]
    assert kinds.count("incident.severity_changed") == 1
