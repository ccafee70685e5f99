"""Intake's one write path: store payloads and signals, deduplicate into alerts, correlate.

Everything a request brings is written in one transaction with the correlation engine's
decisions, so a 2xx means the signal, its alert and its incident link are all on disk, and a
failure leaves nothing behind (the sender's retry is then safe). Within one process the write
path is serialised per engine: SQLite takes one writer at a time anyway, and the correlation
engine's in-memory index sees signals in the order they were committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from quell.detection.pipeline import Correlator, Incoming
from quell.errors import InvalidInput, NotFound
from quell.ingest.models import Alert, ChangeEvent, Payload, SignalRow
from quell.ingest.normalise import Item
from quell.ingest.signal import Signal
from quell.inventory.models import AISystem
from quell.store.db import run_rows, session_scope
from quell.timeutil import as_utc

_IN_CHUNK = 500  # fingerprints per IN (...) lookup, well under every driver's parameter limit


# --- the correlation hook ------------------------------------------------------------------


@dataclass(slots=True)
class Envelope:
    """One received body and the items read from it."""

    source: str
    body: str
    received_by: str
    received_at: datetime
    items: list[Item]
    # Group commit: the inventory names the items were mapped with (None: not recorded), and
    # how to map them again when the inventory changed before their transaction.
    known: frozenset[str] | None = None
    reparse: Callable[[frozenset[str]], list[Item]] | None = None


def correlator_for(engine: Engine) -> Correlator:
    """The process-wide correlation engine for `engine` (its index is rebuilt at first use)."""
    return Correlator.for_engine(engine)


# --- one writer per engine in this process -------------------------------------------------

_write_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Serialise intake transactions on one engine within this process."""
    with _locks_guard:
        lock = _write_locks.setdefault(id(engine), threading.Lock())
    with lock:
        yield


# --- results -------------------------------------------------------------------------------


@dataclass(slots=True)
class IngestResult:
    """What one intake call did, for the response body and the CLI summary."""

    signal_ids: list[int] = field(default_factory=list)
    alert_ids: list[int | None] = field(default_factory=list)
    new_alerts: int = 0
    deduplicated: int = 0
    resolved: int = 0
    unmatched: int = 0  # acknowledge/resolve for a fingerprint with no open alert
    unmapped: int = 0  # signals whose AI system could not be mapped (kept all the same)
    incident_ids: list[int] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        """Count `other`'s signals and alerts in this result too (outcomes are the caller's)."""
        self.signal_ids.extend(other.signal_ids)
        self.alert_ids.extend(other.alert_ids)
        self.new_alerts += other.new_alerts
        self.deduplicated += other.deduplicated
        self.resolved += other.resolved
        self.unmatched += other.unmatched
        self.unmapped += other.unmapped

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": len(self.signal_ids),
            "signals": self.signal_ids,
            "alerts": {
                "new": self.new_alerts,
                "deduplicated": self.deduplicated,
                "resolved": self.resolved,
                "unmatched": self.unmatched,
            },
            "unmapped": self.unmapped,
            "incidents": self.incident_ids,
        }


# --- the write path ------------------------------------------------------------------------


def known_systems(session: Session) -> frozenset[str]:
    """Names of the AI systems in the inventory (a handful of rows)."""
    return frozenset(session.scalars(select(AISystem.name)))


def inventory_names(session: Session) -> frozenset[str]:
    """`known_systems` on the driver's connection: the writer asks once per transaction."""
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("SELECT name FROM ai_systems")
        return frozenset(row[0] for row in cursor.fetchall())
    finally:
        cursor.close()


def receive(engine: Engine, build: Any, *, retries: int = 1) -> tuple[Any, IngestResult]:
    """Run ``build(session) -> (answer, [Envelope])`` and store its envelopes, in one transaction.

    ``build`` authenticates and parses inside the same session, so nothing is written when it
    raises. A concurrent process opening the same alert (a unique-index race on PostgreSQL) is
    retried once; a second failure propagates as a 5xx with nothing stored.
    """
    for attempt in range(retries + 1):
        try:
            with write_lock(engine), session_scope(engine) as session:
                answer, envelopes = build(session)
                result = store_envelopes(session, envelopes, correlator_for(engine))
            return answer, result
        except IntegrityError:
            if attempt >= retries:
                raise
    raise AssertionError("unreachable")


def store_envelopes(
    session: Session, envelopes: Sequence[Envelope], correlator: Correlator
) -> IngestResult:
    """Payloads, signals, alerts and incident links for `envelopes`, in the caller's transaction."""
    result = IngestResult()
    seen: set[int] = set()  # an outcome shared by several envelopes is listed once
    for part in store_each(session, envelopes, correlator, extra_to_all=True):
        result.add(part)
        for outcome in part.outcomes:
            if id(outcome) not in seen:
                seen.add(id(outcome))
                result.outcomes.append(outcome)
    result.incident_ids = sorted(
        {o.incident_id for o in result.outcomes if o.incident_id is not None}
    )
    return result


def store_each(
    session: Session,
    envelopes: Sequence[Envelope],
    correlator: Correlator,
    *,
    extra_to_all: bool = False,
    defer_links: bool = False,
) -> list[IngestResult]:
    """Store `envelopes` in the caller's transaction; one result per envelope, in order.

    Several requests' envelopes share one transaction under group commit, so each answer is
    cut out of the whole: its own signals, alerts and the incidents its alerts joined or
    opened. Correlation may also open candidates held from earlier signals; those outcomes go
    to every envelope when `extra_to_all` (one caller, one answer), else to none.
    With `defer_links` (intake's writer), a held candidate that opens with many alerts from
    earlier batches leaves their links to a durable job run after the commit (see
    `quell.detection.pipeline.HeldLinks`); this batch's alerts are always linked here.
    """
    results = [IngestResult() for _ in envelopes]
    if not envelopes:
        return results
    db = _Driver(session)
    payload_ids = db.insert_payloads(envelopes)
    items: list[tuple[int, int, Item]] = [
        (n, pid, item)
        for n, (pid, env) in enumerate(zip(payload_ids, envelopes, strict=True))
        for item in env.items
    ]
    if not items:
        return results
    open_alerts = db.open_alerts({item.signal.fingerprint for _, _, item in items})

    # Walk the items in order, deciding for each which alert it lands on.
    current: dict[str, int | None] = {fp: row[0] for fp, row in open_alerts.items()}
    new_rows: list[dict[str, Any]] = []  # alerts to create; referenced as -(index + 1) below
    changes: dict[int, dict[str, Any]] = {}  # existing alert id -> accumulated update
    refs: list[tuple[int | None, bool]] = []  # per item: (alert ref, is new alert)
    for n, _pid, item in items:
        result = results[n]
        s = item.signal
        ref = current.get(s.fingerprint)
        if s.system is None:
            result.unmapped += 1
        if item.acknowledge or s.status == "resolved":
            if ref is None:
                result.unmatched += 1
                refs.append((None, False))
                continue
            if s.status == "resolved":
                result.resolved += 1
                current[s.fingerprint] = None
            _touch(ref, new_rows, changes, s, count=0, ack=item.acknowledge)
            refs.append((ref, False))
            continue
        if ref is None:
            new_rows.append(_new_alert_row(s))
            ref = -len(new_rows)
            current[s.fingerprint] = ref
            result.new_alerts += 1
            refs.append((ref, True))
        else:
            result.deduplicated += 1
            _touch(ref, new_rows, changes, s, count=1, ack=False)
            refs.append((ref, False))

    # Close or bump existing alerts first: a resolve followed by a new firing of the same
    # fingerprint in one batch must free the open-alert slot before the new alert takes it.
    if changes:
        db.update_alerts(list(changes.values()))
    new_ids = db.insert_alerts(new_rows) if new_rows else []
    alert_ids = [
        None if ref is None else (new_ids[-ref - 1] if ref < 0 else ref) for ref, _ in refs
    ]
    signal_ids = db.insert_signals([(pid, item) for _n, pid, item in items], alert_ids)
    # Which envelopes' signals landed on each alert: each answer names where they went.
    touched_by: dict[int, list[int]] = {}
    for (n, _pid, _item), sid, aid in zip(items, signal_ids, alert_ids, strict=True):
        results[n].signal_ids.append(sid)
        results[n].alert_ids.append(aid)
        if aid is not None:
            envelopes_of = touched_by.setdefault(aid, [])
            if not envelopes_of or envelopes_of[-1] != n:
                envelopes_of.append(n)

    incoming = [
        Incoming(signal=item.signal, signal_id=sid, alert_id=aid, new_alert=new)
        for (_n, _pid, item), sid, aid, (_ref, new) in zip(
            items, signal_ids, alert_ids, refs, strict=True
        )
        if aid is not None
    ]
    outcomes = (
        correlator.handle(session, incoming, held_outcomes=extra_to_all, defer_links=defer_links)
        if incoming
        else []
    )
    db.link_incidents(outcomes, open_alerts, touched_by)
    for outcome in outcomes:
        owners = touched_by.get(outcome.alert_id)
        if owners is not None:
            for n in owners:
                results[n].outcomes.append(outcome)
        elif extra_to_all:
            for result in results:
                result.outcomes.append(outcome)
    for result in results:
        result.incident_ids = sorted(
            {o.incident_id for o in result.outcomes if o.incident_id is not None}
        )
    return results


def _new_alert_row(s: Signal) -> dict[str, Any]:
    return {
        "fingerprint": s.fingerprint,
        "source": s.source,
        "system": s.system,
        "kind": s.kind,
        "summary": s.summary,
        "severity_hint": s.severity_hint,
        "status": "firing",
        "count": 1,
        "first_seen_at": s.occurred_at,
        "last_seen_at": s.received_at,
        "acknowledged_at": None,
        "resolved_at": None,
        "incident_id": None,
    }


def _touch(
    ref: int,
    new_rows: list[dict[str, Any]],
    changes: dict[int, dict[str, Any]],
    s: Signal,
    *,
    count: int,
    ack: bool,
) -> None:
    """Fold one more signal into an alert: a repeat, an acknowledge or a resolve."""
    # A new row of this batch, or the change to an existing alert: the same keys either way.
    target = (
        new_rows[-ref - 1]
        if ref < 0
        else changes.setdefault(
            ref,
            {
                "id": ref,
                "count": 0,
                "last_seen_at": None,
                "status": "firing",
                "resolved_at": None,
                "acknowledged_at": None,
            },
        )
    )
    target["count"] += count
    target["last_seen_at"] = s.received_at
    if s.status == "resolved":
        target["status"] = "resolved"
        target["resolved_at"] = s.occurred_at
    if ack:
        target["acknowledged_at"] = target["acknowledged_at"] or s.received_at


# --- driver-level statements ---------------------------------------------------------------

_PAYLOAD_COLUMNS = ("source", "received_at", "received_by", "body")
_ALERT_COLUMNS = (
    "fingerprint",
    "source",
    "system",
    "kind",
    "summary",
    "severity_hint",
    "status",
    "count",
    "first_seen_at",
    "last_seen_at",
    "acknowledged_at",
    "resolved_at",
    "incident_id",
)
SIGNAL_COLUMNS = (
    "payload_id",
    "item_path",
    "source",
    "system",
    "kind",
    "summary",
    "status",
    "severity_hint",
    "fingerprint",
    "labels",
    "metrics",
    "archetype_hint",
    "evidence",
    "occurred_at",
    "received_at",
    "alert_id",
)
_JSON_COLUMNS = frozenset({"labels", "metrics", "evidence"})


def _insert_sql(table: str, columns: Sequence[str], mark: str, *, pg: bool) -> str:
    values = ", ".join(f"{mark}::jsonb" if pg and c in _JSON_COLUMNS else mark for c in columns)
    returning = " RETURNING id" if pg else ""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}){returning}"


_SQL: dict[bool, dict[str, str]] = {
    pg: {
        "payloads": _insert_sql("payloads", _PAYLOAD_COLUMNS, "%s" if pg else "?", pg=pg),
        "alerts": _insert_sql("alerts", _ALERT_COLUMNS, "%s" if pg else "?", pg=pg),
        "signals": _insert_sql("signals", SIGNAL_COLUMNS, "%s" if pg else "?", pg=pg),
        # Repeats only raise the count: the status column (and with it the partial index of
        # open alerts) is left alone.
        "bump": "UPDATE alerts SET count = count + {m}, last_seen_at = {m} WHERE id = {m}".format(
            m="%s" if pg else "?"
        ),
        "close": (
            "UPDATE alerts SET count = count + {m}, last_seen_at = {m}, status = {m},"
            " resolved_at = {m}, acknowledged_at = COALESCE(acknowledged_at, {m})"
            " WHERE id = {m}"
        ).format(m="%s" if pg else "?"),
        "link": "UPDATE alerts SET incident_id = {m} WHERE id = {m}".format(m="%s" if pg else "?"),
    }
    for pg in (False, True)
}
# The literal status lets SQLite plan the lookup on the partial unique index of open alerts;
# PostgreSQL gets one array parameter, so the statement is the same (and prepared once) for
# any number of fingerprints.
_OPEN = "SELECT fingerprint, id, incident_id FROM alerts WHERE status = 'firing' AND fingerprint"
_OPEN_PG = _OPEN + " = ANY(%s)"
_OPEN_SQLITE = _OPEN + " IN ({})"


class _Driver:
    """The write path's statements on the driver's own connection, inside the session's transaction.

    These run for every signal received, so they skip SQLAlchemy's statement compilation and
    per-row type processing (most of the cost of a batch on SQLite in the profile) and write
    the values the column types would write: JSON as text, times in UTC (naive on SQLite).
    """

    def __init__(self, session: Session) -> None:
        connection = session.connection()  # begins the session's transaction if needed
        self.pg = connection.dialect.name == "postgresql"
        self.raw: Any = connection.connection.dbapi_connection
        self.sql = _SQL[self.pg]
        self.dbapi_error: type[Exception] = connection.dialect.loaded_dbapi.Error
        self._times: dict[datetime, Any] = {}

    @contextmanager
    def _cursor(self, sql: str) -> Iterator[Any]:
        """A driver cursor whose errors surface as SQLAlchemy's (IntegrityError is retried)."""
        cursor = self.raw.cursor()
        try:
            yield cursor
        except self.dbapi_error as exc:
            raise DBAPIError.instance(sql, None, exc, self.dbapi_error) from exc
        finally:
            cursor.close()

    def time(self, value: datetime | None) -> Any:
        """A time as the UTCDateTime column type writes it (naive UTC text on SQLite)."""
        if value is None:
            return None
        found = self._times.get(value)
        if found is None:
            # A request's signals share their receipt time: each distinct time is made once.
            utc = as_utc(value)
            found = utc if self.pg else utc.replace(tzinfo=None).isoformat(" ", "microseconds")
            self._times[value] = found
        return found

    def _insert(self, table: str, params: list[tuple[Any, ...]]) -> list[int]:
        sql = self.sql[table]
        with self._cursor(sql) as cursor:
            if self.pg:
                if len(params) == 1:
                    cursor.execute(sql, params[0])
                    return [cursor.fetchone()[0]]
                # Pipelined: one round trip for the lot, and each row's id in order. (Measured
                # against one INSERT ... SELECT FROM unnest(arrays): slower here, in wall time
                # and in this process's CPU.)
                cursor.executemany(sql, params, returning=True)
                ids = []
                while True:
                    ids.append(cursor.fetchone()[0])
                    if not cursor.nextset():
                        break
                return ids
            # SQLite has one writer and this transaction holds it, so the new rowids are
            # consecutive and end at last_insert_rowid().
            cursor.executemany(sql, params)
            last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
        return list(range(last - len(params) + 1, last + 1))

    def insert_payloads(self, envelopes: Sequence[Envelope]) -> list[int]:
        t = self.time
        params = [(e.source, t(e.received_at), e.received_by[:100], e.body) for e in envelopes]
        return self._insert("payloads", params)

    def insert_alerts(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        t = self.time
        params = [
            (
                r["fingerprint"],
                r["source"],
                r["system"],
                r["kind"],
                r["summary"],
                r["severity_hint"],
                r["status"],
                r["count"],
                t(r["first_seen_at"]),
                t(r["last_seen_at"]),
                t(r["acknowledged_at"]),
                t(r["resolved_at"]),
                r["incident_id"],
            )
            for r in rows
        ]
        return self._insert("alerts", params)

    def insert_signals(
        self, items: Sequence[tuple[int, Item]], alert_ids: Sequence[int | None]
    ) -> list[int]:
        t = self.time
        dumps = orjson.dumps
        params: list[tuple[Any, ...]] = []
        append = params.append
        # A request's signals share one receipt time, and most have no time of their own.
        received: datetime | None = None
        received_value: Any = None
        for (payload_id, item), alert_id in zip(items, alert_ids, strict=True):
            s = item.signal
            if s.received_at is not received:
                received = s.received_at
                received_value = t(received)
            occurred = s.occurred_at
            labels, metrics, evidence = s.labels, s.metrics, s.evidence
            append(
                (
                    payload_id,
                    item.item_path,
                    s.source,
                    s.system,
                    s.kind,
                    s.summary,
                    s.status,
                    s.severity_hint,
                    s.fingerprint,
                    dumps(labels).decode() if labels else "{}",
                    dumps(metrics).decode() if metrics else "{}",
                    s.archetype_hint,
                    dumps(evidence).decode() if evidence else "{}",
                    received_value if occurred is received else t(occurred),
                    received_value,
                    alert_id,
                )
            )
        return self._insert("signals", params)

    def open_alerts(self, fingerprints: set[str]) -> dict[str, tuple[int, int | None]]:
        """Open alert (id, incident_id) per fingerprint, through the partial unique index."""
        found: dict[str, tuple[int, int | None]] = {}
        fps = list(fingerprints)
        with self._cursor(_OPEN_PG if self.pg else _OPEN_SQLITE) as cursor:
            if self.pg:
                cursor.execute(_OPEN_PG, (fps,))
                rows = cursor.fetchall()
            else:
                rows = []
                for start in range(0, len(fps), _IN_CHUNK):
                    chunk = fps[start : start + _IN_CHUNK]
                    cursor.execute(_OPEN_SQLITE.format(", ".join("?" * len(chunk))), chunk)
                    rows.extend(cursor.fetchall())
        for fp, alert_id, incident_id in rows:
            found[fp] = (alert_id, incident_id)
        return found

    def update_alerts(self, changes: Sequence[dict[str, Any]]) -> None:
        """Fold repeats, acknowledges and resolves into existing alerts, in id order.

        In id order so that two processes updating the same alerts on PostgreSQL take their
        row locks in the same order and cannot deadlock each other.
        """
        t = self.time
        bumps: list[tuple[Any, ...]] = []
        closes: list[tuple[Any, ...]] = []
        for c in sorted(changes, key=lambda c: int(c["id"])):
            if c["status"] == "firing" and c["acknowledged_at"] is None:
                bumps.append((c["count"], t(c["last_seen_at"]), c["id"]))
            else:
                closes.append(
                    (
                        c["count"],
                        t(c["last_seen_at"]),
                        c["status"],
                        t(c["resolved_at"]),
                        t(c["acknowledged_at"]),
                        c["id"],
                    )
                )
        if bumps:
            self._executemany(self.sql["bump"], bumps)
        if closes:
            self._executemany(self.sql["close"], closes)

    def link_incidents(
        self,
        outcomes: Sequence[Any],
        open_alerts: dict[str, tuple[int, int | None]],
        in_batch: Collection[int],
    ) -> None:
        """Record on each alert of this batch the incident the correlation engine put it in.

        Outcomes also name alerts from earlier batches (a held candidate opening with all the
        alerts it gathered): the engine links those itself in one statement, so they are
        skipped here rather than updated twice.
        """
        linked = {
            a: i
            for a, i in ((o.alert_id, o.incident_id) for o in outcomes)
            if i is not None and a in in_batch
        }
        if not linked:
            return
        already = {alert_id: incident_id for alert_id, incident_id in open_alerts.values()}
        params = [
            (incident_id, alert_id)
            for alert_id, incident_id in sorted(linked.items())
            if already.get(alert_id) != incident_id
        ]
        if params:
            self._executemany(self.sql["link"], params)

    def _executemany(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        with self._cursor(sql) as cursor:
            run_rows(cursor, sql, params)


# --- reading back --------------------------------------------------------------------------


def get_signal(session: Session, signal_id: int) -> SignalRow:
    row = session.get(SignalRow, signal_id)
    if row is None:
        raise NotFound(f"signal {signal_id} does not exist")
    return row


def raw_item(session: Session, row: SignalRow) -> tuple[Payload, Any]:
    """The request body a signal came in, and the part of it that is this signal."""
    payload = session.get(Payload, row.payload_id)
    if payload is None:  # the FK cascades, so this only happens under a hand-edited store
        raise NotFound(f"the payload of signal {row.id} is gone")
    value: Any = orjson.loads(payload.body)
    for part in row.item_path.split("/")[1:]:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return payload, value


def signal_to_dict(row: SignalRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "system": row.system,
        "kind": row.kind,
        "summary": row.summary,
        "status": row.status,
        "severity": row.severity_hint,
        "fingerprint": row.fingerprint,
        "labels": row.labels,
        "metrics": row.metrics,
        "archetype": row.archetype_hint,
        "evidence": row.evidence,
        "occurred_at": row.occurred_at.isoformat(),
        "received_at": row.received_at.isoformat(),
        "alert_id": row.alert_id,
        "payload_id": row.payload_id,
        "item_path": row.item_path,
    }


def list_signals(
    session: Session,
    *,
    system: str | None = None,
    unmapped: bool = False,
    source: str | None = None,
    alert_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[SignalRow]:
    """Newest first; `unmapped` lists the signals no AI system could be found for."""
    query = select(SignalRow)
    if unmapped:
        query = query.where(SignalRow.system.is_(None))
    elif system:
        query = query.where(SignalRow.system == system)
    if source:
        query = query.where(SignalRow.source == source)
    if alert_id is not None:
        query = query.where(SignalRow.alert_id == alert_id)
    if before_id is not None:
        query = query.where(SignalRow.id < before_id)
    return list(
        session.scalars(query.order_by(SignalRow.id.desc()).limit(max(1, min(limit, 1000))))
    )


def alert_to_dict(alert: Alert, *, latest_signal_id: int | None = None) -> dict[str, Any]:
    data = {
        "id": alert.id,
        "fingerprint": alert.fingerprint,
        "source": alert.source,
        "system": alert.system,
        "kind": alert.kind,
        "summary": alert.summary,
        "severity": alert.severity_hint,
        "status": alert.status,
        "count": alert.count,
        "first_seen_at": alert.first_seen_at.isoformat(),
        "last_seen_at": alert.last_seen_at.isoformat(),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "incident_id": alert.incident_id,
    }
    if latest_signal_id is not None:
        data["latest_signal_id"] = latest_signal_id
    return data


def list_alerts(
    session: Session,
    *,
    incident_id: int | None = None,
    status: str | None = None,
    system: str | None = None,
    limit: int = 100,
) -> list[Alert]:
    if status is not None and status not in ("firing", "resolved"):
        raise InvalidInput("status: expected firing or resolved", field="status")
    query = select(Alert)
    if incident_id is not None:
        query = query.where(Alert.incident_id == incident_id)
    if status:
        query = query.where(Alert.status == status)
    if system:
        query = query.where(Alert.system == system)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(max(1, min(limit, 1000)))))


def incident_signals(session: Session, incident_id: int) -> list[dict[str, Any]]:
    """An incident's signals with duplicates collapsed: one entry per alert, with its count."""
    from quell.incidents.service import get_incident

    get_incident(session, incident_id)
    alerts = list(
        session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id))
    )
    if not alerts:
        return []
    latest = dict(
        session.execute(
            select(SignalRow.alert_id, func.max(SignalRow.id))
            .where(SignalRow.alert_id.in_([a.id for a in alerts]))
            .group_by(SignalRow.alert_id)
        ).all()
    )
    signals = {
        s.id: s for s in session.scalars(select(SignalRow).where(SignalRow.id.in_(latest.values())))
    }
    out = []
    for alert in alerts:
        entry = alert_to_dict(alert, latest_signal_id=latest.get(alert.id))
        last = signals.get(latest.get(alert.id, -1))
        entry["latest_signal"] = signal_to_dict(last) if last else None
        out.append(entry)
    return out


# --- change events -------------------------------------------------------------------------


def changes_for(
    session: Session, systems: list[str], since: datetime, until: datetime
) -> list[ChangeEvent]:
    """Changes to `systems` that happened in [since, until], oldest first (the change snapshot)."""
    if not systems:
        return []
    query = (
        select(ChangeEvent)
        .where(
            ChangeEvent.system.in_(systems),
            ChangeEvent.occurred_at >= since,
            ChangeEvent.occurred_at <= until,
        )
        .order_by(ChangeEvent.occurred_at, ChangeEvent.id)
    )
    return list(session.scalars(query))


def receive_native(
    engine: Engine, body: Any, *, actor: str, source: str = "native", max_batch: int = 1000
) -> IngestResult:
    """Store native signals (one, a list or ``{"signals": [...]}``) from inside the process.

    The same path as ``POST /api/v1/signals``: parsed once, stored whole or refused whole,
    deduplicated and correlated in one transaction. Drills, the demo and the SDK's local mode
    use it instead of going through HTTP.
    """
    from quell.ingest.native import parse_native
    from quell.ingest.normalise import Context
    from quell.timeutil import utcnow

    text = orjson.dumps(body).decode()

    def build(session: Session) -> tuple[None, list[Envelope]]:
        received = utcnow()
        items = parse_native(body, Context(received, known_systems(session)), max_batch=max_batch)
        return None, [Envelope(source, text, actor, received, items)]

    return receive(engine, build)[1]
