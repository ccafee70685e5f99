"""The timeline is append-only and hash-chained; tampering behind the API's back is caught."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quell.incidents import service
from quell.incidents.models import TimelineEvent
from quell.incidents.timeline import GENESIS, append_event, verify_chain
from quell.store.db import session_scope


def _incident_with_events(db: Engine) -> int:
    with session_scope(db) as s:
        inc = service.create_incident(s, actor="ada", title="t", severity="SEV-2")
        service.transition(s, inc.id, "acknowledged", actor="ada")
        service.add_note(s, inc.id, "looking", actor="rui")
        service.transition(s, inc.id, "resolved", actor="ada")
        return inc.id


def test_intact_chain_verifies(db: Engine) -> None:
    iid = _incident_with_events(db)
    with session_scope(db) as s:
        report = verify_chain(s)
    assert report.ok and report.events == 4 and report.incidents == 1
    with session_scope(db) as s:
        first = s.query(TimelineEvent).filter_by(incident_id=iid, seq=1).one()
        assert first.prev_hash == GENESIS


@pytest.mark.parametrize(
    "statement, problem, first_bad_seq",
    [
        ("UPDATE timeline_events SET actor = 'mallory' WHERE seq = 2", "altered", 2),
        ("UPDATE timeline_events SET reason = 'covered up' WHERE seq = 3", "altered", 3),
        ("UPDATE timeline_events SET data = '{}' WHERE seq = 3", "altered", 3),
        ("DELETE FROM timeline_events WHERE seq = 2", "missing", 3),
    ],
)
def test_edit_behind_the_apis_back_is_caught(
    db: Engine, statement: str, problem: str, first_bad_seq: int
) -> None:
    iid = _incident_with_events(db)
    with db.begin() as conn:
        conn.execute(text(statement))
    with session_scope(db) as s:
        report = verify_chain(s)
    assert not report.ok
    assert report.breaks[0].incident_id == iid
    assert report.breaks[0].seq == first_bad_seq
    assert problem in report.breaks[0].problem


def test_rehashed_edit_still_breaks_the_next_link(db: Engine) -> None:
    """Rewriting one event and its hash is not enough: the next event's prev_hash disagrees."""
    _incident_with_events(db)
    with db.begin() as conn:
        conn.execute(text("UPDATE timeline_events SET hash = :h WHERE seq = 2"), {"h": "f" * 64})
    with session_scope(db) as s:
        report = verify_chain(s)
    assert not report.ok and report.breaks[0].seq == 2


def test_two_writers_cannot_fork_the_chain(db: Engine, session: Session) -> None:
    inc = service.create_incident(session, actor="a", title="t", severity="SEV-3")
    session.commit()
    event = session.query(TimelineEvent).filter_by(incident_id=inc.id).one()
    duplicate = TimelineEvent(
        incident_id=inc.id,
        seq=event.seq,
        actor="b",
        kind="note",
        data={},
        reason="",
        prev_hash=GENESIS,
        hash="0" * 64,
    )
    session.add(duplicate)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_append_event_chains_hashes(session: Session) -> None:
    inc = service.create_incident(session, actor="a", title="t", severity="SEV-3")
    e2 = append_event(session, inc, actor="b", kind="note", data={"text": "x", "n": 1.5})
    e3 = append_event(session, inc, actor="c", kind="note", data={})
    assert (e2.seq, e3.seq) == (2, 3)
    assert e3.prev_hash == e2.hash != e3.hash
