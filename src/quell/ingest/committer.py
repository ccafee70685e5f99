"""Group commit: concurrent intake requests share one transaction, each answered after it.

A commit costs the same whether it holds one signal or a thousand (on PostgreSQL it waits for
the WAL to reach the disk; on SQLite it is the one writer's turn), so one writer thread per
engine takes every request that arrived while the previous transaction ran and stores them
together. A request hands over items that were already validated, waits, and is answered
2xx only after the commit that holds them returned. There is no artificial delay: an idle
server commits a lone request at once, a busy one commits whatever queued meanwhile.

A failing transaction must not sink the others' signals, so when a group fails each of its
requests is stored again in a transaction of its own and gets its own answer (a 5xx for the
one that really fails). A request whose client went away before its turn is dropped unwritten.

Work that need not hold up an answer runs after it: when a held candidate opens with
thousands of alerts from earlier batches, the opening transaction writes the incident, this
batch's links and a durable job for the rest (`quell.detection.pipeline.HeldLinks`), and the
rest is linked in short chunks once the answers are out. On SQLite (one writer) the writer
does the chunks itself between its transactions, requests first; on PostgreSQL a second thread
does them beside the writer, so no request waits for them (each chunk takes ~20 ms there,
most of it the server updating rows and their indexes, and its own WAL flush).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import ClassVar, Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from quell.detection.pipeline import DEFERRED_LINKS, HeldLinks
from quell.ingest.service import (
    Envelope,
    IngestResult,
    correlator_for,
    inventory_names,
    store_each,
    write_lock,
)
from quell.store.db import PerEngine, session_scope

# A group closes at this many signals or requests, so one transaction stays short.
MAX_GROUP_SIGNALS: Final = 5000
MAX_GROUP_REQUESTS: Final = 1000

log = logging.getLogger("quell.ingest")


class _Waiter:
    """Where one request's answer goes: a thread's Future, or a future of an event loop."""

    __slots__ = ("error", "future", "loop", "result")

    def __init__(
        self,
        future: Future[IngestResult] | asyncio.Future[IngestResult],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.future = future
        self.loop = loop
        self.result: IngestResult | None = None
        self.error: BaseException | None = None

    def claim(self) -> bool:
        """False when the request was cancelled (its client left) before its turn."""
        if self.loop is None:
            assert isinstance(self.future, Future)
            return self.future.set_running_or_notify_cancel()
        return not self.future.cancelled()


def _settle(waiters: list[_Waiter]) -> None:
    """Answer event-loop waiters (runs on their loop)."""
    for w in waiters:
        if w.future.done():
            continue
        if w.error is not None:
            w.future.set_exception(w.error)
        else:
            w.future.set_result(w.result)  # type: ignore[arg-type]


class Committer(PerEngine):
    """The intake writer thread of one engine in this process, started at first use
    (`Committer.for_engine`)."""

    engine: Engine

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Appending to a deque is atomic, so a request only touches the wake-up event when
        # the writer sleeps; while it commits, requests queue without any lock.
        self._pending: deque[tuple[Envelope, _Waiter]] = deque()
        self._wake = threading.Event()
        self._idle = False
        # Inventory names read by the last transaction: requests map systems with them, and
        # the writer maps again any request that used names the inventory no longer has.
        self.known: frozenset[str] | None = None
        self.transactions = 0  # committed group transactions, for tests and the benchmark
        # Link jobs to run after the answers: made by the last transaction, then queued for
        # this thread (SQLite) or the linker thread (PostgreSQL).
        self._fresh: list[HeldLinks] = []
        self._deferred: deque[HeldLinks] = deque()
        self._linker = _Linker(engine) if engine.dialect.name == "postgresql" else None
        self._thread = threading.Thread(target=self._run, name="quell-intake-writer", daemon=True)
        self._thread.start()

    def submit(self, envelope: Envelope) -> Future[IngestResult]:
        """Queue a validated envelope; the future resolves after its transaction committed."""
        future: Future[IngestResult] = Future()
        self._enqueue(envelope, _Waiter(future))
        return future

    async def store(self, envelope: Envelope) -> IngestResult:
        """`submit` for a coroutine: returns once the envelope's transaction committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._enqueue(envelope, _Waiter(future, loop))
        return await future

    def _enqueue(self, envelope: Envelope, waiter: _Waiter) -> None:
        self._pending.append((envelope, waiter))
        if self._idle:
            self._wake.set()

    def defer(self, links: list[HeldLinks]) -> None:
        """Have these link jobs (already stored) run after the answers, as the writer's own."""
        if self._linker is not None:
            self._linker.add(links)
            return
        self._deferred.extend(links)
        if self._idle:
            self._wake.set()

    @property
    def deferred(self) -> int:
        """Link jobs not finished yet, for tests and the benchmark."""
        waiting = len(self._fresh) + len(self._deferred)
        return waiting + (self._linker.pending if self._linker is not None else 0)

    # -- the writer thread

    def _run(self) -> None:
        while True:
            if self._deferred and not self._pending:
                self._link_step()  # requests first: one chunk, then look at the queue again
                continue
            group = self._next_group()
            try:
                self._commit_group(group)
            except BaseException as exc:  # never leave a request waiting forever
                for _envelope, waiter in group:
                    if waiter.result is None and waiter.error is None:
                        waiter.error = exc
            self._deliver([waiter for _envelope, waiter in group])
            if self._fresh:
                fresh, self._fresh = self._fresh, []
                self.defer(fresh)
            if group and self._deferred:
                # Under a steady stream the queue is never empty: one chunk per transaction
                # still gets the links done, delaying the next group by one chunk at most.
                self._link_step()

    def _requests_waiting(self) -> bool:
        return bool(self._pending)

    def _link_step(self) -> None:
        """One chunk of the oldest link job, in its own transaction."""
        links = self._deferred[0]
        try:
            with write_lock(self.engine), session_scope(self.engine) as session:
                # A request arriving meanwhile waits for one piece (~0.2 ms), not the chunk.
                rest = links.step(session, yield_to=self._requests_waiting)
            links.runs = rest
        except Exception:
            links.give_up()
        if not links.runs:
            self._deferred.popleft()

    def _next_group(self) -> list[tuple[Envelope, _Waiter]]:
        while not self._pending:
            if self._deferred:
                return []
            # Idle before looking again, so a request queued meanwhile always wakes us.
            self._idle = True
            if not self._pending and not self._deferred:
                self._wake.wait()
            self._wake.clear()
            self._idle = False
        group: list[tuple[Envelope, _Waiter]] = []
        signals = 0
        while self._pending and len(group) < MAX_GROUP_REQUESTS:
            envelope, waiter = self._pending[0]
            if group and signals + len(envelope.items) > MAX_GROUP_SIGNALS:
                break
            self._pending.popleft()
            if waiter.claim():  # a request whose client left is dropped, unwritten
                group.append((envelope, waiter))
                signals += len(envelope.items)
        return group

    def _deliver(self, waiters: list[_Waiter]) -> None:
        """Hand each answer over: one wake-up per event loop, not one per request."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Waiter]] = {}
        for w in waiters:
            if w.loop is not None:
                by_loop.setdefault(w.loop, []).append(w)
            elif w.error is not None:
                w.future.set_exception(w.error)
            else:
                w.future.set_result(w.result)  # type: ignore[arg-type]
        for loop, batch in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, batch)

    def _commit_group(self, group: list[tuple[Envelope, _Waiter]]) -> None:
        if not group:
            return
        try:
            results = self._transaction([envelope for envelope, _ in group])
        except Exception as exc:
            if len(group) == 1:
                self._alone(*group[0], first_error=exc)
                return
            # One bad apple must not cost the others their signals: each on its own.
            for envelope, waiter in group:
                self._alone(envelope, waiter, first_error=None)
            return
        for (_envelope, waiter), result in zip(group, results, strict=True):
            waiter.result = result

    def _alone(self, envelope: Envelope, waiter: _Waiter, *, first_error: Exception | None) -> None:
        """Store one envelope in its own transaction; a race with another process is retried."""
        if first_error is not None and not _retryable(first_error):
            waiter.error = first_error
            return
        attempts = 1 if first_error is not None else 2
        for attempt in range(attempts):
            try:
                waiter.result = self._transaction([envelope])[0]
                return
            except Exception as exc:
                if not _retryable(exc) or attempt + 1 >= attempts:
                    waiter.error = exc
                    return

    def _transaction(self, envelopes: list[Envelope]) -> list[IngestResult]:
        with write_lock(self.engine), session_scope(self.engine) as session:
            known = inventory_names(session)
            self.known = known
            for envelope in envelopes:
                if envelope.reparse is not None and envelope.known != known:
                    # The inventory changed since the request read it: map its systems again.
                    envelope.items = envelope.reparse(known)
                    envelope.known = known
            results = store_each(session, envelopes, correlator_for(self.engine), defer_links=True)
            deferred: list[HeldLinks] = session.info.pop(DEFERRED_LINKS, [])
        self.transactions += 1
        self._fresh.extend(deferred)  # handed over once the answers are out (see _run)
        return results


class _Linker:
    """PostgreSQL: runs link jobs beside the writer, each chunk in its own transaction.

    Concurrent writers are safe there: the chunks update only alerts that already belong to
    the new incident in the correlation index (intake may bump one meanwhile and then waits
    for that row's lock, at most one chunk). Both take row locks in id order; a deadlock or
    serialization failure is retried, and a job that keeps failing is left to the scheduler.
    """

    ATTEMPTS: ClassVar[int] = 3
    MAX_PAUSE_S: ClassVar[float] = 0.05

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: deque[HeldLinks] = deque()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quell-intake-linker", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def add(self, links: list[HeldLinks]) -> None:
        self._queue.extend(links)
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._queue:
                links = self._queue[0]
                while links.runs:
                    self._step(links)
                self._queue.popleft()

    def _step(self, links: HeldLinks) -> None:
        """One chunk, retried after a lost race; a job that keeps failing is given up here."""
        for attempt in range(self.ATTEMPTS):
            try:
                started = time.monotonic()
                with session_scope(self.engine) as session:
                    # No wait for the WAL flush: a chunk lost in a crash is redone from the job
                    # row (committed with the incident), and the WAL keeps commits in order,
                    # so the job's done mark never outlives an earlier chunk.
                    session.connection().exec_driver_sql("SET LOCAL synchronous_commit = off")
                    rest = links.step(session)
                links.runs = rest
                # The row updates are the database server's work on the cores the requests
                # need too: at most half of one, so a storm's links slow no request much.
                time.sleep(min(time.monotonic() - started, self.MAX_PAUSE_S))
                return
            except Exception as exc:
                if _retryable(exc) and attempt + 1 < self.ATTEMPTS:
                    continue
                links.give_up()
                return


# PostgreSQL's deadlock and serialization failures: the other transaction won, try again.
_RACE_STATES: Final = frozenset({"40P01", "40001"})


def _retryable(exc: BaseException) -> bool:
    """A race with another process (the open-alert unique index, a deadlock), not a bad request."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _RACE_STATES
