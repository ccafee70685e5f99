"""Intake's one write path: store payloads and signals, deduplicate into alerts, correlate.

Everything a request brings is written in one transaction with the correlation engine's
decisions, so a 2xx means the signal, its alert and its incident link are all on disk, and a
failure leaves nothing behind (the sender's retry is then safe). Within one process the write
path is serialised per engine: SQLite takes one writer at a time anyway, and the correlation
engine's in-memory index sees signals in the order they were committed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quell.detection.pipeline import Correlator, Incoming
from quell.errors import InvalidInput, NotFound
from quell.ingest.models import Alert, ChangeEvent, Payload, SignalRow
from quell.ingest.normalise import Item
from quell.ingest.signal import Signal
from quell.inventory.models import AISystem
from quell.store.db import session_scope

_payloads: Table = Payload.__table__  # type: ignore[assignment]
_signals: Table = SignalRow.__table__  # type: ignore[assignment]
_alerts: Table = Alert.__table__  # type: ignore[assignment]
# Literal, not a bound parameter, so SQLite uses the partial unique index on open alerts.
_OPEN = text("alerts.status = 'firing'")
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
    """Names of the AI systems in the inventory (a handful of rows; read once per request)."""
    return frozenset(session.scalars(select(AISystem.name)))


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
    if not envelopes:
        return result
    payload_ids = _insert_payloads(session, envelopes)
    items = [
        (pid, item) for pid, env in zip(payload_ids, envelopes, strict=True) for item in env.items
    ]
    if not items:
        return result
    open_alerts = _open_alerts(session, {item.signal.fingerprint for _, item in items})

    # Walk the items in order, deciding for each which alert it lands on.
    current: dict[str, int | None] = {fp: row[0] for fp, row in open_alerts.items()}
    new_rows: list[dict[str, Any]] = []  # alerts to create; referenced as -(index + 1) below
    changes: dict[int, dict[str, Any]] = {}  # existing alert id -> accumulated update
    refs: list[tuple[int | None, bool]] = []  # per item: (alert ref, is new alert)
    for _pid, item in items:
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
        _apply_alert_changes(session, changes)
    new_ids: list[int] = []
    if new_rows:
        stmt = insert(_alerts).returning(_alerts.c.id, sort_by_parameter_order=True)
        new_ids = [row[0] for row in session.execute(stmt, new_rows)]
    alert_ids = [
        None if ref is None else (new_ids[-ref - 1] if ref < 0 else ref) for ref, _ in refs
    ]

    signal_rows = [
        _signal_row(pid, item, alert_id)
        for (pid, item), alert_id in zip(items, alert_ids, strict=True)
    ]
    result.signal_ids = _insert_signals(session, signal_rows)
    result.alert_ids = alert_ids

    incoming = [
        Incoming(signal=item.signal, signal_id=sid, alert_id=aid, new_alert=new)
        for (_pid, item), sid, aid, (_ref, new) in zip(
            items, result.signal_ids, alert_ids, refs, strict=True
        )
        if aid is not None
    ]
    outcomes = correlator.handle(session, incoming) if incoming else []
    result.outcomes = outcomes
    _link_incidents(session, outcomes, open_alerts)
    result.incident_ids = sorted({o.incident_id for o in outcomes if o.incident_id is not None})
    return result


def _insert_payloads(session: Session, envelopes: Sequence[Envelope]) -> list[int]:
    rows = [
        {
            "source": e.source,
            "received_at": e.received_at,
            "received_by": e.received_by[:100],
            "body": e.body,
        }
        for e in envelopes
    ]
    if len(rows) == 1:
        return [session.execute(insert(_payloads).returning(_payloads.c.id), rows[0]).scalar_one()]
    stmt = insert(_payloads).returning(_payloads.c.id, sort_by_parameter_order=True)
    return [row[0] for row in session.execute(stmt, rows)]


def _open_alerts(session: Session, fingerprints: set[str]) -> dict[str, tuple[int, int | None]]:
    """Open alert (id, incident_id) per fingerprint, through the partial unique index."""
    found: dict[str, tuple[int, int | None]] = {}
    fps = list(fingerprints)
    for start in range(0, len(fps), _IN_CHUNK):
        chunk = fps[start : start + _IN_CHUNK]
        query = select(_alerts.c.fingerprint, _alerts.c.id, _alerts.c.incident_id).where(
            _OPEN, _alerts.c.fingerprint.in_(chunk)
        )
        for fp, alert_id, incident_id in session.execute(query):
            found[fp] = (alert_id, incident_id)
    return found


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
    if ref < 0:
        row = new_rows[-ref - 1]
        row["count"] += count
    else:
        row = changes.setdefault(
            ref,
            {"b_id": ref, "b_count": 0, "b_status": "firing", "b_resolved": None, "b_ack": None},
        )
        row["b_count"] += count
    key_last = "last_seen_at" if ref < 0 else "b_last"
    row[key_last] = s.received_at
    if s.status == "resolved":
        row["status" if ref < 0 else "b_status"] = "resolved"
        row["resolved_at" if ref < 0 else "b_resolved"] = s.occurred_at
    if ack:
        key = "acknowledged_at" if ref < 0 else "b_ack"
        row[key] = row.get(key) or s.received_at


def _apply_alert_changes(session: Session, changes: dict[int, dict[str, Any]]) -> None:
    stmt = (
        update(_alerts)
        .where(_alerts.c.id == bindparam("b_id"))
        .values(
            count=_alerts.c.count + bindparam("b_count"),
            last_seen_at=bindparam("b_last", type_=_alerts.c.last_seen_at.type),
            status=bindparam("b_status"),
            resolved_at=bindparam("b_resolved", type_=_alerts.c.resolved_at.type),
            acknowledged_at=func.coalesce(
                _alerts.c.acknowledged_at, bindparam("b_ack", type_=_alerts.c.acknowledged_at.type)
            ),
        )
    )
    session.execute(stmt, list(changes.values()), execution_options={"synchronize_session": False})


_SIGNAL_COLUMNS = (
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
_SQLITE_INSERT = (
    f"INSERT INTO signals ({', '.join(_SIGNAL_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_SIGNAL_COLUMNS))})"
)


def _sqlite_value(value: Any) -> Any:
    # The same text SQLAlchemy's JSON and UTCDateTime types write on SQLite, made here
    # directly: the per-row type processing was most of the insert's cost.
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def _insert_signals(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert signal rows and return their ids, in order."""
    if session.get_bind().dialect.name != "sqlite":
        stmt = insert(_signals).returning(_signals.c.id, sort_by_parameter_order=True)
        return [row[0] for row in session.execute(stmt, rows)]
    # SQLite: one executemany on the driver. The write lock is held and SQLite has one writer,
    # so the new rowids are consecutive and end at last_insert_rowid().
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            _SQLITE_INSERT, [tuple(_sqlite_value(r[c]) for c in _SIGNAL_COLUMNS) for r in rows]
        )
        last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
    finally:
        cursor.close()
    return list(range(last - len(rows) + 1, last + 1))


def _signal_row(payload_id: int, item: Item, alert_id: int | None) -> dict[str, Any]:
    s = item.signal
    return {
        "payload_id": payload_id,
        "item_path": item.item_path,
        "source": s.source,
        "system": s.system,
        "kind": s.kind,
        "summary": s.summary,
        "status": s.status,
        "severity_hint": s.severity_hint,
        "fingerprint": s.fingerprint,
        "labels": s.labels,
        "metrics": s.metrics,
        "archetype_hint": s.archetype_hint,
        "evidence": s.evidence,
        "occurred_at": s.occurred_at,
        "received_at": s.received_at,
        "alert_id": alert_id,
    }


def _link_incidents(
    session: Session, outcomes: Sequence[Any], open_alerts: dict[str, tuple[int, int | None]]
) -> None:
    """Record on each alert the incident the correlation engine put it in."""
    linked = {a: i for a, i in ((o.alert_id, o.incident_id) for o in outcomes) if i is not None}
    if not linked:
        return
    already = {alert_id: incident_id for alert_id, incident_id in open_alerts.values()}
    rows = [
        {"b_id": alert_id, "b_incident": incident_id}
        for alert_id, incident_id in linked.items()
        if already.get(alert_id) != incident_id
    ]
    if rows:
        stmt = (
            update(_alerts)
            .where(_alerts.c.id == bindparam("b_id"))
            .values(incident_id=bindparam("b_incident"))
        )
        session.execute(stmt, rows, execution_options={"synchronize_session": False})


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
