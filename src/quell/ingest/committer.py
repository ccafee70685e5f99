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
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from typing import ClassVar, Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from quell.ingest.service import (
    Envelope,
    IngestResult,
    correlator_for,
    inventory_names,
    store_each,
    write_lock,
)
from quell.store.db import session_scope

# A group closes at this many signals or requests, so one transaction stays short.
MAX_GROUP_SIGNALS: Final = 5000
MAX_GROUP_REQUESTS: Final = 1000


class Committer:
    """The intake writer thread of one engine in this process."""

    _instances: ClassVar[dict[int, Committer]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: deque[tuple[Envelope, Future[IngestResult]]] = deque()
        self._wake = threading.Condition()
        # Inventory names read by the last transaction: requests map systems with them, and
        # the writer maps again any request that used names the inventory no longer has.
        self.known: frozenset[str] | None = None
        self.transactions = 0  # committed group transactions, for tests and the benchmark
        self._thread = threading.Thread(target=self._run, name="quell-intake-writer", daemon=True)
        self._thread.start()

    @classmethod
    def for_engine(cls, engine: Engine) -> Committer:
        """The one writer for `engine` in this process, started at first use."""
        with cls._instances_lock:
            found = cls._instances.get(id(engine))
            if found is None or found.engine is not engine:
                found = cls._instances[id(engine)] = cls(engine)
            return found

    def submit(self, envelope: Envelope) -> Future[IngestResult]:
        """Queue a validated envelope; the future resolves after its transaction committed."""
        future: Future[IngestResult] = Future()
        with self._wake:
            self._pending.append((envelope, future))
            self._wake.notify()
        return future

    # -- the writer thread

    def _run(self) -> None:
        while True:
            group = self._next_group()
            try:
                self._commit_group(group)
            except BaseException as exc:  # never leave a request waiting forever
                for _envelope, future in group:
                    if not future.done():
                        future.set_exception(exc)

    def _next_group(self) -> list[tuple[Envelope, Future[IngestResult]]]:
        group: list[tuple[Envelope, Future[IngestResult]]] = []
        signals = 0
        with self._wake:
            while not self._pending:
                self._wake.wait()
            while self._pending and len(group) < MAX_GROUP_REQUESTS:
                envelope, future = self._pending[0]
                if group and signals + len(envelope.items) > MAX_GROUP_SIGNALS:
                    break
                self._pending.popleft()
                # False when the request was cancelled (its client left): nothing is written.
                if future.set_running_or_notify_cancel():
                    group.append((envelope, future))
                    signals += len(envelope.items)
        return group

    def _commit_group(self, group: list[tuple[Envelope, Future[IngestResult]]]) -> None:
        if not group:
            return
        try:
            results = self._transaction([envelope for envelope, _ in group])
        except Exception as exc:
            if len(group) == 1:
                self._alone(*group[0], first_error=exc)
                return
            # One bad apple must not cost the others their signals: each on its own.
            for envelope, future in group:
                self._alone(envelope, future, first_error=None)
            return
        for (_envelope, future), result in zip(group, results, strict=True):
            future.set_result(result)

    def _alone(
        self,
        envelope: Envelope,
        future: Future[IngestResult],
        *,
        first_error: Exception | None,
    ) -> None:
        """Store one envelope in its own transaction; a race with another process is retried."""
        if first_error is not None and not _retryable(first_error):
            future.set_exception(first_error)
            return
        attempts = 1 if first_error is not None else 2
        for attempt in range(attempts):
            try:
                future.set_result(self._transaction([envelope])[0])
                return
            except Exception as exc:
                if not _retryable(exc) or attempt + 1 >= attempts:
                    future.set_exception(exc)
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
            results = store_each(session, envelopes, correlator_for(self.engine))
        self.transactions += 1
        return results


# PostgreSQL's deadlock and serialization failures: the other transaction won, try again.
_RACE_STATES: Final = frozenset({"40P01", "40001"})


def _retryable(exc: BaseException) -> bool:
    """A race with another process (the open-alert unique index, a deadlock), not a bad request."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _RACE_STATES
