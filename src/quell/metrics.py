"""Response metrics read off the record: time to detect, acknowledge, mitigate and resolve.

Grouped per system, archetype or severity over a period, with mean, p50 and p90; and signal
volume against incidents over time buckets (how much noise correlation took away).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from quell.errors import InvalidInput
from quell.incidents.models import Incident
from quell.timeutil import as_utc, iso, utcnow
from quell.triage.sources import first_signal_at

GROUPINGS = ("system", "archetype", "severity")
MEASURES = ("time_to_detect", "time_to_acknowledge", "time_to_mitigate", "time_to_resolve")
BUCKETS = {"hour": 3600, "day": 86400}
DEFAULT_PERIOD = timedelta(days=30)
MAX_BUCKETS = 1000
Grouping = Literal["system", "archetype", "severity"]


def check_period(
    since: datetime | None, until: datetime | None, *, default: timedelta = DEFAULT_PERIOD
) -> tuple[datetime, datetime]:
    """The period asked for, defaulting to the last 30 days; since after until is refused."""
    end = as_utc(until) if until else utcnow()
    start = as_utc(since) if since else end - default
    if start > end:
        raise InvalidInput(
            f"since ({iso(start)}) is after until ({iso(end)}); the period would be empty",
            field="since",
        )
    return start, end


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "mean_s": round(sum(values) / len(values), 1) if values else None,
        "p50_s": None if not values else round(percentile(values, 50) or 0.0, 1),
        "p90_s": None if not values else round(percentile(values, 90) or 0.0, 1),
    }


def response_metrics(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str = "severity",
) -> dict[str, Any]:
    """Mean, p50 and p90 of each response time for incidents detected in the period."""
    if by not in GROUPINGS:
        raise InvalidInput(
            f"unknown grouping {by!r}; expected one of {', '.join(GROUPINGS)}", field="by"
        )
    start, end = check_period(since, until)
    incidents = list(
        session.scalars(
            select(Incident)
            .where(Incident.detected_at >= start, Incident.detected_at <= end)
            .options(selectinload(Incident.systems))
        )
    )
    first = first_signal_at(session, [i.id for i in incidents])
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    overall: dict[str, list[float]] = defaultdict(list)
    for incident in incidents:
        detected = as_utc(incident.detected_at)
        measured: dict[str, float | None] = {
            "time_to_detect": _seconds(first.get(incident.id), detected),
            "time_to_acknowledge": _seconds(detected, incident.acknowledged_at),
            "time_to_mitigate": _seconds(detected, incident.mitigated_at),
            "time_to_resolve": _seconds(detected, incident.resolved_at),
        }
        if by == "system":
            keys = [s.name for s in incident.systems] or ["(no system)"]
        else:
            keys = [getattr(incident, by)]
        for measure, value in measured.items():
            if value is None:
                continue
            overall[measure].append(value)
            for key in keys:
                samples[key][measure].append(value)
    counts: dict[str, int] = defaultdict(int)
    for incident in incidents:
        keys = (
            [s.name for s in incident.systems] or ["(no system)"]
            if by == "system"
            else [getattr(incident, by)]
        )
        for key in keys:
            counts[key] += 1
    groups = [
        {
            by: key,
            "incidents": counts[key],
            **{m: summarise(samples[key][m]) for m in MEASURES},
        }
        for key in sorted(counts)
    ]
    return {
        "since": iso(start),
        "until": iso(end),
        "by": by,
        "incidents": len(incidents),
        "overall": {m: summarise(overall[m]) for m in MEASURES},
        "groups": groups,
        "note": None if first or not incidents else "time to detect needs signals attached",
    }


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    value = (as_utc(end) - as_utc(start)).total_seconds()
    # A first signal stamped after detection (clock skew) says nothing about detection speed.
    return value if value >= 0 else None


def _bucket_expr(session: Session, column: Any, width: int) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.floor(func.extract("epoch", column) / width)
    return func.cast(func.strftime("%s", column), _integer()) / width


def _integer() -> Any:
    from sqlalchemy import Integer

    return Integer


def noise_reduction(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str = "day",
) -> dict[str, Any]:
    """Signals received, alerts opened and incidents detected per time bucket."""
    if bucket not in BUCKETS:
        raise InvalidInput(
            f"unknown bucket {bucket!r}; expected one of {', '.join(BUCKETS)}", field="bucket"
        )
    width = BUCKETS[bucket]
    start, end = check_period(since, until, default=timedelta(days=7))
    if (end - start).total_seconds() / width > MAX_BUCKETS:
        raise InvalidInput(
            f"the period spans more than {MAX_BUCKETS} {bucket}s; use a wider bucket",
            field="bucket",
        )
    series: dict[int, dict[str, int]] = {}
    first = int(start.timestamp() // width)
    last = int(end.timestamp() // width)
    for index in range(first, last + 1):
        series[index] = {"signals": 0, "alerts": 0, "incidents": 0}

    def count(name: str, column: Any) -> None:
        expr = _bucket_expr(session, column, width)
        for key, n in session.execute(
            select(expr, func.count()).where(column >= start, column <= end).group_by(expr)
        ):
            index = int(key)
            if index in series:
                series[index][name] += int(n)

    note = None
    try:
        from quell.ingest.models import Alert, SignalRow
    except ImportError:
        note = "no signal store yet: ingest's tables are not installed"
    else:
        count("signals", SignalRow.received_at)
        count("alerts", Alert.first_seen_at)
    count("incidents", Incident.detected_at)
    rows: list[dict[str, Any]] = []
    for index, values in sorted(series.items()):
        signals, incidents = values["signals"], values["incidents"]
        rows.append(
            {
                "start": iso(datetime.fromtimestamp(index * width, tz=start.tzinfo)),
                **values,
                "signals_per_incident": round(signals / incidents, 2) if incidents else None,
            }
        )
    total_signals = sum(v["signals"] for v in series.values())
    total_incidents = sum(v["incidents"] for v in series.values())
    return {
        "since": iso(start),
        "until": iso(end),
        "bucket": bucket,
        "buckets": rows,
        "signals": total_signals,
        "alerts": sum(v["alerts"] for v in series.values()),
        "incidents": total_incidents,
        "reduction": round(1 - total_incidents / total_signals, 4) if total_signals else None,
        "note": note,
    }
