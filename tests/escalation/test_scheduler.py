"""The scheduler: durable, idempotent by key, retried with backoff, claimed once across
workers, and still there after a restart."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quell import scheduler
from quell.scheduler import ScheduledJob
from quell.store.db import session_scope
from quell.timeutil import utcnow
from tests.escalation.conftest import fresh_engine

calls: list[dict[str, Any]] = []
counts: Counter[int] = Counter()
_lock = threading.Lock()


def _record(session: Session, payload: dict[str, Any]) -> None:
    calls.append(payload)


def _count(session: Session, payload: dict[str, Any]) -> None:
    with _lock:
        counts[int(payload["n"])] += 1


def _flaky(session: Session, payload: dict[str, Any]) -> None:
    job = scheduler.current_job()
    assert job is not None
    if job.attempt < int(payload["succeed_on"]):
        raise RuntimeError(f"receiver down (attempt {job.attempt})")
    calls.append(payload)


scheduler.register("test.record", _record)
scheduler.register("test.count", _count)
scheduler.register("test.flaky", _flaky)


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()
    counts.clear()


def _job(db: Engine, job_id: int) -> ScheduledJob:
    with session_scope(db) as s:
        job = s.get(ScheduledJob, job_id)
        assert job is not None
        return job


def test_a_job_runs_once_when_due_not_before(db: Engine) -> None:
    now = utcnow()
    with session_scope(db) as s:
        job_id = scheduler.schedule(s, "test.record", now + timedelta(minutes=5), {"x": 1})
    assert scheduler.run_due(db, now=now) == 0 and calls == []
    assert scheduler.run_due(db, now=now + timedelta(minutes=5)) == 1
    assert calls == [{"x": 1}]
    assert scheduler.run_due(db, now=now + timedelta(hours=1)) == 0 and len(calls) == 1
    assert _job(db, job_id).status == "done"


def test_a_key_makes_scheduling_idempotent_and_cancellable(db: Engine) -> None:
    now = utcnow()
    with session_scope(db) as s:
        first = scheduler.schedule(s, "test.record", now + timedelta(minutes=5), {"v": 1}, key="k")
        second = scheduler.schedule(s, "test.record", now + timedelta(minutes=9), {"v": 2}, key="k")
        assert first == second
        assert len(scheduler.pending(s, key="k")) == 1
    scheduler.run_due(db, now=now + timedelta(minutes=6))
    assert calls == []  # moved to minute 9
    scheduler.run_due(db, now=now + timedelta(minutes=9))
    assert calls == [{"v": 2}]
    with session_scope(db) as s:
        # Done jobs free their key: a new one can be scheduled, and cancelled.
        scheduler.schedule(s, "test.record", now + timedelta(minutes=20), {"v": 3}, key="k")
        assert scheduler.cancel(s, "k") is True
        assert scheduler.cancel(s, "k") is False
    scheduler.run_due(db, now=now + timedelta(hours=1))
    assert calls == [{"v": 2}]


def test_failures_are_recorded_and_retried_with_backoff(db: Engine) -> None:
    now = utcnow()
    with session_scope(db) as s:
        job_id = scheduler.schedule(s, "test.flaky", now, {"succeed_on": 3})
    assert scheduler.run_due(db, now=now) == 0
    job = _job(db, job_id)
    assert job.status == "pending" and job.attempts == 1
    assert "receiver down (attempt 1)" in (job.last_error or "")
    assert job.due_at == now + scheduler.backoff(1)
    # Not yet: the backoff has not passed.
    assert scheduler.run_due(db, now=now + scheduler.backoff(1) - timedelta(seconds=1)) == 0
    assert _job(db, job_id).attempts == 1
    scheduler.run_due(db, now=job.due_at)
    job = _job(db, job_id)
    assert job.attempts == 2 and job.due_at == now + scheduler.backoff(1) + scheduler.backoff(2)
    assert scheduler.run_due(db, now=job.due_at) == 1
    assert calls == [{"succeed_on": 3}]
    assert _job(db, job_id).status == "done" and _job(db, job_id).attempts == 3


def test_a_job_that_keeps_failing_is_kept_as_failed_not_lost(db: Engine) -> None:
    now = utcnow()
    with session_scope(db) as s:
        job_id = scheduler.schedule(s, "test.flaky", now, {"succeed_on": 99}, max_attempts=2)
    scheduler.run_due(db, now=now)
    scheduler.run_due(db, now=now + timedelta(hours=2))
    job = _job(db, job_id)
    assert job.status == "failed" and job.attempts == 2 and job.last_error
    with session_scope(db) as s:
        assert s.get(ScheduledJob, job_id) is not None


def test_an_unknown_kind_is_retried_not_dropped(db: Engine) -> None:
    now = utcnow()
    with session_scope(db) as s:
        job_id = scheduler.schedule(s, "test.nobody-handles-this", now, {})
    scheduler.run_due(db, now=now)
    job = _job(db, job_id)
    assert job.status == "pending" and "no handler" in (job.last_error or "")


def test_two_workers_never_run_the_same_job(db: Engine) -> None:
    now = utcnow()
    with session_scope(db) as s:
        for n in range(60):
            scheduler.schedule(s, "test.count", now, {"n": n})
    errors: list[BaseException] = []

    def work() -> None:
        try:
            scheduler.run_due(db, now=now, limit=7)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(counts) == list(range(60))
    assert set(counts.values()) == {1}


def test_pending_timers_survive_a_restart(db: Engine) -> None:
    """Schedule under a running worker, stop it and drop the engine, start a new one."""
    due = utcnow() + timedelta(minutes=30)
    worker = scheduler.Worker(db, poll_s=0.05).start()
    with session_scope(db) as s:
        scheduler.schedule(s, "test.record", due, {"survives": True}, key="restart")
    worker.stop()
    assert not worker.running and calls == []
    engine = fresh_engine(db)
    try:
        with session_scope(engine) as s:
            assert [j.key for j in scheduler.pending(s)] == ["restart"]
        assert scheduler.run_due(engine, now=due) == 1
        assert calls == [{"survives": True}]
    finally:
        engine.dispose()


def test_a_job_claimed_by_a_worker_that_died_is_taken_again(db: Engine) -> None:
    now = utcnow()
    with session_scope(db) as s:
        job_id = scheduler.schedule(s, "test.record", now, {"orphan": 1})
    # A worker claims the job and dies before running it.
    assert scheduler._claim(db, now, 10) == [job_id]
    assert scheduler.run_due(db, now=now) == 0  # still leased to the dead worker
    assert scheduler.run_due(db, now=utcnow() + scheduler.LEASE + timedelta(seconds=1)) == 1
    assert calls == [{"orphan": 1}]


def test_the_worker_thread_runs_due_jobs(db: Engine) -> None:
    with session_scope(db) as s:
        scheduler.schedule(s, "test.record", utcnow() - timedelta(seconds=1), {"bg": 1})
    worker = scheduler.Worker(db, poll_s=0.05).start()
    try:
        for _ in range(200):
            if calls:
                break
            threading.Event().wait(0.05)
    finally:
        worker.stop()
    assert calls == [{"bg": 1}]
    with session_scope(db) as s:
        assert s.scalars(select(ScheduledJob.status)).all() == ["done"]


def test_the_app_starts_and_stops_the_worker_when_asked(db: Engine) -> None:
    from fastapi.testclient import TestClient

    from quell.api.app import create_app
    from quell.settings import Settings

    app = create_app(Settings(database_url="sqlite://", scheduler=True), engine=db)
    with TestClient(app):
        worker = app.state.scheduler
        assert worker is not None and worker.running
    assert not worker.running
    quiet = create_app(Settings(database_url="sqlite://"), engine=db)
    with TestClient(quiet):
        assert quiet.state.scheduler is None
