"""The timeline: append-only, hash-chained events, and the check that the chain is intact."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quell.incidents.models import Incident, TimelineEvent
from quell.timeutil import iso, utcnow

GENESIS = "0" * 64


def event_hash(
    prev_hash: str,
    incident_id: int,
    seq: int,
    at: datetime,
    actor: str,
    kind: str,
    data: dict[str, Any],
    reason: str,
) -> str:
    """SHA-256 over the previous hash and a canonical encoding of the event's content."""
    body = orjson.dumps(
        {
            "incident": incident_id,
            "seq": seq,
            "at": iso(at),
            "actor": actor,
            "kind": kind,
            "data": data,
            "reason": reason,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


def append_event(
    session: Session,
    incident: Incident,
    *,
    actor: str,
    kind: str,
    data: dict[str, Any] | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> TimelineEvent:
    """Append one event to the incident's timeline (never updated or deleted afterwards).

    The unique (incident_id, seq) key makes two writers racing for the same slot fail
    instead of forking the chain.
    """
    if incident.id is None:
        session.flush()
    last = session.execute(
        select(TimelineEvent.seq, TimelineEvent.hash)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    payload = _jsonable(data or {})
    when = at or utcnow()
    # Round to microseconds as both databases store them, so the hash survives a round trip.
    event = TimelineEvent(
        incident_id=incident.id,
        seq=seq,
        at=when,
        actor=actor,
        kind=kind,
        data=payload,
        reason=reason,
        prev_hash=prev,
        hash=event_hash(prev, incident.id, seq, when, actor, kind, payload, reason),
    )
    session.add(event)
    session.flush()
    return event


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise data through JSON so that what is hashed is exactly what is stored."""
    result: dict[str, Any] = orjson.loads(orjson.dumps(data, default=str))
    return result


def events(session: Session, incident_id: int) -> list[TimelineEvent]:
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.seq)
        )
    )


@dataclass(frozen=True)
class ChainBreak:
    incident_id: int
    seq: int
    event_id: int
    problem: str


@dataclass(frozen=True)
class VerifyReport:
    incidents: int
    events: int
    breaks: list[ChainBreak]

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_chain(session: Session, incident_id: int | None = None) -> VerifyReport:
    """Walk every incident's chain (or one) and report the first broken link of each."""
    query = select(TimelineEvent).order_by(TimelineEvent.incident_id, TimelineEvent.seq)
    if incident_id is not None:
        query = query.where(TimelineEvent.incident_id == incident_id)
    breaks: list[ChainBreak] = []
    broken: set[int] = set()
    seen_incidents: set[int] = set()
    count = 0
    prev_hash, expected_seq, current = GENESIS, 1, None
    for event in session.scalars(query).yield_per(1000):
        count += 1
        if event.incident_id != current:
            current, prev_hash, expected_seq = event.incident_id, GENESIS, 1
            seen_incidents.add(current)
        if current in broken:
            continue
        problem = None
        if event.seq != expected_seq:
            problem = f"expected event {expected_seq}, found {event.seq} (an event is missing)"
        elif event.prev_hash != prev_hash:
            problem = "its previous-hash does not match the event before it"
        elif event.hash != event_hash(
            event.prev_hash,
            event.incident_id,
            event.seq,
            event.at,
            event.actor,
            event.kind,
            event.data,
            event.reason,
        ):
            problem = "its content does not match its hash (the row was altered)"
        if problem:
            breaks.append(ChainBreak(event.incident_id, event.seq, event.id, problem))
            broken.add(event.incident_id)
            continue
        prev_hash, expected_seq = event.hash, expected_seq + 1
    total = session.scalar(select(func.count(Incident.id))) if incident_id is None else 1
    return VerifyReport(incidents=int(total or len(seen_incidents)), events=count, breaks=breaks)
