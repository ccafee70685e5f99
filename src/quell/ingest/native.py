"""quell's own signal JSON (what the SDK, the detectors and ``quell ingest`` send).

One signal is an object; a batch is ``{"signals": [...]}`` or a bare list. The check is a lean
hand-written pass over the parsed JSON rather than a pydantic model: a 1,000-signal batch is
validated in about a millisecond, and each error still names its field (``signals[3].kind``).
"""

from __future__ import annotations

from typing import Any, Final

from quell.errors import InvalidInput, PayloadTooLarge
from quell.ingest.normalise import (
    MAX_FINGERPRINT,
    MAX_NAME,
    MAX_SUMMARY,
    SEVERITIES,
    STATUSES,
    Context,
    Item,
    label_fingerprint,
    map_system,
    parse_when,
    string_labels,
    text_field,
)
from quell.ingest.signal import Signal

FIELDS: Final = frozenset(
    {
        "source",
        "system",
        "kind",
        "summary",
        "severity",
        "status",
        "labels",
        "metrics",
        "archetype",
        "evidence",
        "occurred_at",
        "fingerprint",
    }
)


def batch_items(body: Any, *, max_batch: int) -> tuple[list[Any], str]:
    """The list of signal objects in a body, and the JSON pointer prefix of its items."""
    if isinstance(body, dict) and "signals" in body:
        extra = sorted(set(body) - {"signals"})
        if extra:
            raise InvalidInput(f"{extra[0]}: unknown field beside 'signals'", field=extra[0])
        items, prefix = body["signals"], "/signals/"
        if not isinstance(items, list):
            raise InvalidInput("signals: expected a list of signal objects", field="signals")
    elif isinstance(body, list):
        items, prefix = body, "/"
    elif isinstance(body, dict):
        return [body], ""
    else:
        raise InvalidInput('expected a signal object, a list, or {"signals": [...]}')
    if not items:
        raise InvalidInput("signals: the batch is empty", field="signals")
    if len(items) > max_batch:
        raise PayloadTooLarge(
            f"signals: {len(items)} signals in one request; the most is {max_batch}"
            " (QUELL_MAX_BATCH)",
            field="signals",
        )
    return items, prefix


def parse_native(body: Any, ctx: Context, *, max_batch: int) -> list[Item]:
    """Turn a native body (one signal or a batch) into items, refusing it whole on any error."""
    raw_items, prefix = batch_items(body, max_batch=max_batch)
    name = "signals" if prefix == "/signals/" else ""
    out: list[Item] = []
    for index, raw in enumerate(raw_items):
        path = f"{prefix}{index}" if prefix else ""
        signal = _usual_signal(raw, ctx)
        if signal is None:  # anything unusual: the full check, whose errors name the field
            signal = native_signal(raw, ctx, f"{name}[{index}]" if prefix else "")
        out.append(Item(signal, path))
    return out


_TEXT_LIMITS: Final = (
    ("source", 20),
    ("kind", MAX_NAME),
    ("summary", MAX_SUMMARY),
    ("archetype", MAX_NAME),
    ("system", MAX_NAME),
    ("fingerprint", MAX_FINGERPRINT),
)


def _usual_signal(raw: Any, ctx: Context) -> Signal | None:
    """`native_signal` for the common shape, or None to leave the signal to the full check.

    Per signal of a batch this is the whole validation, so it formats no field names and
    builds nothing it does not keep: strings within their limits, all-string labels, numeric
    metrics, an evidence object, no sender time or a valid one. Whatever else (an error, an
    unusual but valid value) returns None, and `native_signal` then decides, so both paths
    give the same Signal for any body they both accept.
    """
    if raw.__class__ is not dict or not FIELDS.issuperset(raw):
        return None
    get = raw.get
    for key, limit in _TEXT_LIMITS:
        value = get(key)
        if value is not None and (value.__class__ is not str or not 0 < len(value) <= limit):
            return None
    kind = get("kind")
    summary = get("summary")
    if kind is None or summary is None:
        return None
    severity = get("severity")
    if severity is not None and severity not in SEVERITIES:
        return None
    status = get("status") or "firing"
    if status not in STATUSES:
        return None
    labels = get("labels")
    if labels is None:
        labels = {}
    elif labels.__class__ is dict:
        for v in labels.values():
            if v.__class__ is not str:
                return None
        labels = labels.copy()
    else:
        return None
    metrics = get("metrics")
    if metrics is None:
        metrics = {}
    elif metrics.__class__ is dict:
        metrics = metrics.copy()
        for key, number in metrics.items():
            cls = number.__class__
            if cls is int:
                metrics[key] = float(number)
            elif cls is not float:
                return None
    else:
        return None
    evidence = get("evidence") or {}
    if evidence.__class__ is not dict:
        return None
    received = ctx.received_at
    occurred = received
    when = get("occurred_at")
    if when is not None:
        if when.__class__ is not str or not when:
            return None
        try:
            occurred = parse_when(when, "occurred_at", now=received, default=received)
        except InvalidInput:
            return None
    source = get("source") or "native"
    system, fingerprint = _where_from(get("system"), labels, ctx, source, kind, get("fingerprint"))
    return Signal(
        source,
        kind,
        summary,
        system,
        fingerprint,
        occurred,
        received,
        status,  # type: ignore[arg-type]  # checked against STATUSES above
        severity,
        labels,
        metrics,
        get("archetype"),
        evidence,
    )


def _where_from(
    explicit: str | None,
    labels: dict[str, str],
    ctx: Context,
    source: str,
    kind: str,
    fingerprint: str | None,
) -> tuple[str | None, str]:
    """The signal's AI system and fingerprint, for both validation paths (`labels` may gain the
    sender's own system name: an unmapped signal still shows where it came from)."""
    system = map_system(explicit, labels, ctx.known_systems)
    if explicit and system is None:
        labels.setdefault("system", explicit)
    return system, fingerprint or label_fingerprint(source, system, kind, labels)


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _text(raw: dict[str, Any], key: str, where: str, *, required: bool, limit: int) -> str | None:
    """A string field; the common case (a short string) costs no field-name formatting."""
    value = raw.get(key)
    if value.__class__ is str and 0 < len(value) <= limit:
        return value
    return text_field(value, _at(where, key), required=required, limit=limit)


def native_signal(raw: Any, ctx: Context, where: str = "") -> Signal:
    """One native signal object -> Signal; errors name the field as ``where.field``."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where or 'body'}: expected a signal object", field=where or None)
    unknown = raw.keys() - FIELDS
    if unknown:
        key = sorted(unknown)[0]
        raise InvalidInput(
            f"{_at(where, key)}: unknown field; expected some of {', '.join(sorted(FIELDS))}",
            field=_at(where, key),
        )
    source = _text(raw, "source", where, required=False, limit=20)
    kind = _text(raw, "kind", where, required=True, limit=MAX_NAME)
    summary = _text(raw, "summary", where, required=True, limit=MAX_SUMMARY)
    assert kind is not None and summary is not None  # required=True guarantees it
    severity = raw.get("severity")
    if severity is not None and severity not in SEVERITIES:
        field = _at(where, "severity")
        raise InvalidInput(f"{field}: expected one of {', '.join(SEVERITIES)}", field=field)
    status = raw.get("status") or "firing"
    if status not in STATUSES:
        field = _at(where, "status")
        raise InvalidInput(f"{field}: expected firing or resolved", field=field)
    labels = _labels(raw.get("labels"), where)
    metrics = _metrics(raw.get("metrics"), where)
    evidence = raw.get("evidence") or {}
    if not isinstance(evidence, dict):
        field = _at(where, "evidence")
        raise InvalidInput(f"{field}: expected an object", field=field)
    archetype = _text(raw, "archetype", where, required=False, limit=MAX_NAME)
    explicit = _text(raw, "system", where, required=False, limit=MAX_NAME)
    source = source or "native"
    system, fingerprint = _where_from(
        explicit,
        labels,
        ctx,
        source,
        kind,
        _text(raw, "fingerprint", where, required=False, limit=MAX_FINGERPRINT),
    )
    when = raw.get("occurred_at")
    occurred = (
        ctx.received_at
        if when is None
        else parse_when(
            when, _at(where, "occurred_at"), now=ctx.received_at, default=ctx.received_at
        )
    )
    return Signal(
        source=source,
        kind=kind,
        summary=summary,
        system=system,
        fingerprint=fingerprint,
        occurred_at=occurred,
        received_at=ctx.received_at,
        status=status,  # type: ignore[arg-type]
        severity_hint=severity,
        labels=labels,
        metrics=metrics,
        archetype_hint=archetype,
        evidence=evidence,
    )


def _labels(value: Any, where: str) -> dict[str, str]:
    # All-string labels (the usual case) are copied as they are; anything else gets the
    # full check, which names the offending label.
    if value is None:
        return {}
    if value.__class__ is dict and all(v.__class__ is str for v in value.values()):
        return dict(value)
    return string_labels(value, _at(where, "labels"))


def _metrics(value: Any, signal_where: str) -> dict[str, float]:
    if value is None:
        return {}
    where = _at(signal_where, "metrics")
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected an object of names to numbers", field=where)
    out: dict[str, float] = {}
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidInput(f"{where}.{key}: expected a number", field=f"{where}.{key}")
        out[key] = float(number)
    return out
