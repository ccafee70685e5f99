"""A held candidate that opens with many alerts from earlier batches: the request answers with
the incident, and the earlier alerts are linked after the answer by a durable job that also
survives a crash (the next index rebuild or the scheduler does it)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from quell import scheduler
from quell.config import apply_config, parse_config
from quell.detection.pipeline import (
    DEFERRED_LINKS,
    LINK_GRACE,
    LINK_INLINE_MAX,
    LINK_JOB,
    Correlator,
    HeldLinks,
    id_runs,
)
from quell.incidents.models import Incident
from quell.ingest.committer import Committer
from quell.ingest.models import Alert
from quell.ingest.native import parse_native
from quell.ingest.normalise import Context
from quell.ingest.service import (
    Envelope,
    correlator_for,
    known_systems,
    receive_native,
    store_each,
    write_lock,
)
from quell.scheduler import ScheduledJob
from quell.store.db import session_scope
from quell.timeutil import utcnow

HELD = LINK_INLINE_MAX + 50  # more than the opening request links itself


def _signal(i: int, severity: str = "warning") -> dict[str, Any]:
    return {
        "system": "bot",
        "kind": "latency",
        "severity": severity,
        "summary": f"slow route {i}",
        "fingerprint": f"lat-{i}",
        "metrics": {"p90_latency_s": 8.0},
    }


def _holding_config(db: Engine) -> None:
    """One system whose warnings gather in a held candidate (nothing pages for an hour)."""
    config, extras = parse_config(
        {
            "systems": [{"name": "bot", "kind": "generative"}],
            "correlation": {"group_wait": 3600, "min_signals": 100_000},
        }
    )
    with session_scope(db) as s:
        apply_config(s, config, extras)


def _hold_many(db: Engine) -> None:
    """Warnings that gather in one held candidate (nothing pages for an hour)."""
    _holding_config(db)
    for start in range(0, HELD, 100):
        held = receive_native(
            db, [_signal(i) for i in range(start, min(start + 100, HELD))], actor="t"
        )
        assert held.incident_ids == []


def _envelope(db: Engine, body: Any) -> Envelope:
    with session_scope(db) as s:
        known = known_systems(s)
    received = utcnow()
    items = parse_native(body, Context(received, known), max_batch=1000)
    return Envelope("native", "{}", "t", received, items, known=known)


def _links(db: Engine) -> dict[int | None, int]:
    """How many alerts name each incident (None: no incident yet)."""
    with session_scope(db) as s:
        rows = s.execute(select(Alert.incident_id, func.count()).group_by(Alert.incident_id))
        return {incident_id: count for incident_id, count in rows}


def _link_jobs(db: Engine) -> list[str]:
    with session_scope(db) as s:
        return list(s.scalars(select(ScheduledJob.status).where(ScheduledJob.kind == LINK_JOB)))


def _incidents(db: Engine) -> list[int]:
    with session_scope(db) as s:
        return list(s.scalars(select(Incident.id)))


def _open_without_running_the_links(db: Engine) -> int:
    """What the writer commits when a critical signal opens the candidate; the links it would
    run after the answer are dropped, as a kill -9 right after the commit would drop them."""
    with write_lock(db), session_scope(db) as session:
        [result] = store_each(
            session,
            [_envelope(db, _signal(HELD, "critical"))],
            correlator_for(db),
            defer_links=True,
        )
        deferred = session.info.pop(DEFERRED_LINKS, [])
    assert len(deferred) == 1 and isinstance(deferred[0], HeldLinks)
    [incident_id] = result.incident_ids
    return incident_id


def test_the_writer_answers_first_and_links_the_held_alerts_after(db: Engine) -> None:
    _hold_many(db)
    committer = Committer.for_engine(db)
    result = committer.submit(_envelope(db, _signal(HELD, "critical"))).result(timeout=60)
    [incident_id] = result.incident_ids
    # The job was committed with the incident, so it exists whatever the writer did since.
    assert _link_jobs(db) in (["pending"], ["done"])
    deadline = time.monotonic() + 60
    while committer.deferred and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _links(db) == {incident_id: HELD + 1}
    assert _link_jobs(db) == ["done"]
    assert _incidents(db) == [incident_id]


def test_small_candidates_are_linked_in_the_opening_transaction(db: Engine) -> None:
    _holding_config(db)
    receive_native(db, [_signal(i) for i in range(5)], actor="t")
    with write_lock(db), session_scope(db) as session:
        [result] = store_each(
            session, [_envelope(db, _signal(5, "critical"))], correlator_for(db), defer_links=True
        )
        assert DEFERRED_LINKS not in session.info
    assert _links(db) == {result.incident_ids[0]: 6}
    assert _link_jobs(db) == []


def test_links_left_undone_by_a_crash_are_done_before_the_index_is_rebuilt(db: Engine) -> None:
    _hold_many(db)
    incident_id = _open_without_running_the_links(db)
    assert _links(db) == {None: HELD, incident_id: 1}
    assert _link_jobs(db) == ["pending"]

    Correlator.forget(db)  # a restart: the next signal rebuilds the index from the store
    later = receive_native(db, _signal(HELD + 1), actor="t")
    # Not a second incident from the "held" alerts: they belong to the one that opened.
    assert later.incident_ids == [incident_id]
    assert _incidents(db) == [incident_id]
    assert _links(db) == {incident_id: HELD + 2}
    assert _link_jobs(db) == ["done"]


def test_the_scheduler_runs_a_link_job_nobody_finished(db: Engine) -> None:
    _hold_many(db)
    incident_id = _open_without_running_the_links(db)
    scheduler.run_due(db, now=utcnow())  # (the page and update reminders of the incident)
    assert _link_jobs(db) == ["pending"]  # its owner gets LINK_GRACE first
    assert _links(db) == {None: HELD, incident_id: 1}
    scheduler.run_due(db, now=utcnow() + LINK_GRACE + timedelta(seconds=1))
    assert _links(db) == {incident_id: HELD + 1}
    assert _link_jobs(db) == ["done"]


def test_a_link_job_runs_in_chunks_and_is_done_with_the_last(db: Engine) -> None:
    _hold_many(db)
    incident_id = _open_without_running_the_links(db)
    with session_scope(db) as s:
        job = s.scalars(select(ScheduledJob).where(ScheduledJob.kind == LINK_JOB)).one()
        links = HeldLinks(job.id, incident_id, [tuple(r) for r in job.payload["runs"]])
    # A chunk whose transaction fails leaves nothing behind, and the runs stay as they were.
    before = list(links.runs)
    try:
        with session_scope(db) as s:
            links.step(s, budget=70)
            raise RuntimeError("the chunk's transaction fails")
    except RuntimeError:
        pass
    assert links.runs == before
    assert _links(db) == {None: HELD, incident_id: 1}
    steps = 0
    while links.runs:
        with session_scope(db) as s:
            rest = links.step(s, budget=70)
        links.runs = rest
        steps += 1
        assert _link_jobs(db) == (["done"] if not rest else ["pending"])
    assert steps == -(-HELD // 70)
    assert _links(db) == {incident_id: HELD + 1}
    # Done is done: another step (or the scheduler, or a rebuild) changes nothing.
    with session_scope(db) as s:
        assert HeldLinks(job.id, incident_id, [(1, 10**9)]).step(s) == []
    assert _links(db) == {incident_id: HELD + 1}


def test_id_runs() -> None:
    assert id_runs([]) == []
    assert id_runs([4]) == [(4, 4)]
    assert id_runs([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 7), (9, 10)]


def test_alerts_from_earlier_batches_and_this_one_are_all_linked(db: Engine) -> None:
    """A small held candidate opens: every alert it gathered, from any batch, is linked in the
    opening request itself (no job needed below LINK_INLINE_MAX)."""
    _holding_config(db)
    for start in (0, 5):  # two earlier batches of held warnings
        held = receive_native(db, [_signal(i) for i in range(start, start + 5)], actor="t")
        assert held.incident_ids == []
    opened = receive_native(db, [_signal(10), _signal(11, "critical")], actor="t")
    assert len(set(opened.incident_ids)) == 1
    with session_scope(db) as s:
        linked = {a.fingerprint: a.incident_id for a in s.scalars(select(Alert))}
    assert len(linked) == 12
    assert set(linked.values()) == {opened.incident_ids[0]}, linked
    assert _link_jobs(db) == []
