"""Durable timers: jobs stored in the database, run by whichever worker claims them first.

Escalation timeouts, notification retries, update and clock reminders all go through here, so a
restart loses nothing: a pending job is a row, and a job whose worker died mid-run is claimed
again once its lease runs out. Claiming is safe across processes: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, one atomic ``UPDATE`` under SQLite's single-writer lock. Each job runs in its own
transaction with the job's completion, so its effects and its "done" mark commit together.

    scheduler.register("escalation.timeout", handler)      # handler(session, payload) -> None
    scheduler.schedule(session, "escalation.timeout", due, {"incident_id": 7}, key="esc:7")
    scheduler.run_due(engine)                               # or a Worker thread does it
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Integer, String, Text, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from quell.errors import InvalidInput
from quell.store.base import Base, JSONType
from quell.store.db import session_scope
from quell.timeutil import as_utc, utcnow

log = logging.getLogger("quell.scheduler")

Handler = Callable[[Session, dict[str, Any]], None]
Periodic = Callable[[Engine], None]

# A claimed job is someone's for this long; after that a crashed worker's job is taken again.
LEASE = timedelta(minutes=5)
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 3600.0
DEFAULT_MAX_ATTEMPTS = 8

_handlers: dict[str, Handler] = {}
_periodic: dict[str, tuple[Periodic, float]] = {}


class ScheduledJob(Base):
    """A durable timer: a job of some kind due at a time, run once by whichever worker claims it.

    `pending_key` holds the job's key only while it is pending or running; the unique
    constraint on it is what makes scheduling with a key idempotent across processes.
    """

    __tablename__ = "scheduled_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(80), index=True)
    key: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    pending_key: Mapped[str | None] = mapped_column(String(200), default=None, unique=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    due_at: Mapped[datetime] = mapped_column(index=True)
    # pending -> running -> done | pending (retry) | failed (gave up) ; cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


@dataclass(frozen=True)
class JobContext:
    """What a running handler may want to know about its job (see `current_job`)."""

    job_id: int
    kind: str
    due_at: datetime
    attempt: int
    now: datetime


_current: ContextVar[JobContext | None] = ContextVar("quell_scheduler_job", default=None)


def current_job() -> JobContext | None:
    """The job being run by this thread, or None outside a handler."""
    return _current.get()


def now() -> datetime:
    """The clock of the running job (the `now` given to run_due), else the wall clock.

    Handlers use it to schedule follow-ups, so tests can drive time without sleeping.
    """
    job = _current.get()
    return job.now if job else utcnow()


def register(kind: str, handler: Handler) -> None:
    """Declare the function that runs jobs of `kind` (one per kind; the last one wins)."""
    _handlers[kind] = handler


def register_periodic(name: str, fn: Periodic, every_s: float) -> None:
    """Run `fn(engine)` about every `every_s` seconds in each worker (it must be idempotent)."""
    if every_s <= 0:
        raise ValueError("every_s must be positive")
    _periodic[name] = (fn, every_s)


def handlers() -> dict[str, Handler]:
    return dict(_handlers)


def backoff(attempt: int) -> timedelta:
    """Delay before retry number `attempt` (1-based): 30 s, 1 min, 2 min ... capped at 1 h."""
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempt - 1, 0), BACKOFF_MAX_S))


def schedule(
    session: Session,
    kind: str,
    due_at: datetime,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Store a job due at `due_at`; returns its id. With a key, a pending job with the same key
    is replaced (its time and payload updated), so scheduling twice leaves one job."""
    if not kind:
        raise InvalidInput("a job needs a kind", field="kind")
    due = as_utc(due_at)
    incident_id = payload.get("incident_id")
    incident_id = incident_id if isinstance(incident_id, int) else None
    if key is not None:
        existing = session.scalars(
            select(ScheduledJob).where(ScheduledJob.pending_key == key).with_for_update()
        ).first()
        if existing is not None and existing.status == "pending":
            if (existing.kind, existing.due_at, existing.payload) == (kind, due, payload):
                return existing.id  # nothing changed: no write
            existing.kind, existing.due_at, existing.payload = kind, due, dict(payload)
            existing.incident_id, existing.max_attempts = incident_id, max_attempts
            existing.attempts, existing.last_error = 0, None
            session.flush()
            return existing.id
        if existing is not None:
            # Running right now: let it finish under its old key, and queue the new one beside it.
            existing.pending_key = None
            session.flush()
    job = ScheduledJob(
        kind=kind,
        key=key,
        pending_key=key,
        incident_id=incident_id,
        payload=dict(payload),
        due_at=due,
        status="pending",
        max_attempts=max_attempts,
        created_at=utcnow(),
    )
    if key is None or session.get_bind().dialect.name != "postgresql":
        # On SQLite a race between two processes fails on the unique key instead of
        # duplicating the job (a SAVEPOINT there would end the caller's transaction).
        session.add(job)
        session.flush()
        return job.id
    # Two processes may race to create the same key: the unique constraint picks one.
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        return schedule(session, kind, due_at, payload, key=key, max_attempts=max_attempts)
    return job.id


def close_job(job: ScheduledJob, status: str) -> None:
    """End a job for good (done, cancelled, failed): it frees its key and any claim on it.
    The caller flushes (or commits)."""
    job.status, job.finished_at, job.pending_key = status, utcnow(), None
    job.claimed_by, job.lease_until = None, None


def cancel(session: Session, key: str) -> bool:
    """Cancel the pending job with this key; True if there was one."""
    job = session.scalars(
        select(ScheduledJob)
        .where(ScheduledJob.pending_key == key, ScheduledJob.status == "pending")
        .with_for_update()
    ).first()
    if job is None:
        return False
    close_job(job, "cancelled")
    session.flush()
    return True


def finish(session: Session, job_id: int) -> bool:
    """Mark a pending job done without a worker running it: its owner did the work itself
    (e.g. intake's writer right after its answer). False when it was not pending (a worker
    claimed it, or it finished already), in which case nothing changes."""
    job = session.get(ScheduledJob, job_id, with_for_update=True)
    if job is None or job.status != "pending":
        return False
    close_job(job, "done")
    job.last_error = None
    session.flush()
    return True


def pending(
    session: Session, *, key: str | None = None, incident_id: int | None = None
) -> list[ScheduledJob]:
    """Jobs still to run, soonest first, optionally for one key or one incident."""
    query = select(ScheduledJob).where(ScheduledJob.status.in_(("pending", "running")))
    if key is not None:
        query = query.where(ScheduledJob.key == key)
    if incident_id is not None:
        query = query.where(ScheduledJob.incident_id == incident_id)
    return list(session.scalars(query.order_by(ScheduledJob.due_at, ScheduledJob.id)))


def _claim(engine: Engine, at: datetime, limit: int) -> list[int]:
    """Mark up to `limit` due jobs as ours and return their ids; nobody else gets them."""
    token = uuid.uuid4().hex
    due = or_(
        (ScheduledJob.status == "pending") & (ScheduledJob.due_at <= at),
        # A running job whose lease ran out belonged to a worker that died: take it again.
        (ScheduledJob.status == "running") & (ScheduledJob.lease_until < at),
    )
    with session_scope(engine) as session:
        if engine.dialect.name == "postgresql":
            ids = list(
                session.scalars(
                    select(ScheduledJob.id)
                    .where(due)
                    .order_by(ScheduledJob.due_at, ScheduledJob.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            where: Any = ScheduledJob.id.in_(ids)
        else:
            # SQLite: this one UPDATE takes the database's write lock, so it is atomic.
            inner = (
                select(ScheduledJob.id)
                .where(due)
                .order_by(ScheduledJob.due_at, ScheduledJob.id)
                .limit(limit)
                .scalar_subquery()
            )
            where = ScheduledJob.id.in_(inner)
        session.execute(
            update(ScheduledJob)
            .where(where)
            .values(status="running", claimed_by=token, lease_until=utcnow() + LEASE)
            .execution_options(synchronize_session=False)
        )
        session.flush()
        claimed = list(
            session.scalars(
                select(ScheduledJob.id)
                .where(ScheduledJob.claimed_by == token, ScheduledJob.status == "running")
                .order_by(ScheduledJob.due_at, ScheduledJob.id)
            )
        )
    return claimed


@contextmanager
def _job_context(ctx: JobContext) -> Iterator[None]:
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)


def _run_one(engine: Engine, job_id: int, at: datetime) -> bool:
    """Run one claimed job in its own transaction; on failure record it and plan a retry."""
    try:
        with session_scope(engine) as session:
            job = session.get(ScheduledJob, job_id)
            if job is None or job.status != "running":
                return False
            job.attempts += 1
            handler = _handlers.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler registered for job kind {job.kind!r}")
            ctx = JobContext(job.id, job.kind, job.due_at, job.attempts, at)
            with _job_context(ctx):
                handler(session, dict(job.payload))
            close_job(job, "done")
            job.last_error = None
        return True
    except Exception as exc:  # a handler may fail in any way; the job must survive it
        log.warning("job %s failed: %s", job_id, exc)
        _record_failure(engine, job_id, exc, at)
        return False


def _record_failure(engine: Engine, job_id: int, exc: Exception, at: datetime) -> None:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
    with session_scope(engine) as session:
        job = session.get(ScheduledJob, job_id)
        if job is None:
            return
        job.attempts += 1  # the handler's own increment was rolled back with it
        job.last_error = detail
        job.claimed_by, job.lease_until = None, None
        if job.attempts >= job.max_attempts:
            # Kept, not deleted: a failed job stays visible (and can be rescheduled by hand).
            close_job(job, "failed")
        else:
            job.status = "pending"
            job.due_at = max(at, job.due_at) + backoff(job.attempts)


def run_due(engine: Engine, now: datetime | None = None, limit: int = 100) -> int:
    """Claim and run the jobs due at `now` (default: the wall clock); returns how many ran
    successfully. Jobs scheduled by a handler for a time not later than `now` run in the
    same call, so one call can drive a chain of timers forward."""
    at = as_utc(now) if now is not None else utcnow()
    done = 0
    for _round in range(10):  # bounded: a handler scheduling due jobs forever cannot spin here
        ids = _claim(engine, at, limit)
        if not ids:
            break
        for job_id in ids:
            done += _run_one(engine, job_id, at)
    return done


class Worker:
    """A background thread that runs due jobs and periodic tasks until stopped."""

    def __init__(self, engine: Engine, *, poll_s: float = 1.0) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_periodic: dict[str, float] = {}

    def start(self) -> Worker:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="quell-scheduler", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def tick(self) -> int:
        """One round: due jobs, then the periodic tasks whose interval has passed."""
        ran = run_due(self.engine)
        clock = time.monotonic()
        for name, (fn, every_s) in list(_periodic.items()):
            last = self._last_periodic.get(name)
            if last is not None and clock - last < every_s:
                continue
            self._last_periodic[name] = clock
            try:
                fn(self.engine)
            except Exception:
                log.exception("periodic task %s failed", name)
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the database may be briefly away; keep the worker alive
                log.exception("scheduler tick failed")
            self._stop.wait(self.poll_s)
