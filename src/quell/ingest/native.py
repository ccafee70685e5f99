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
        where = f"{name}[{index}]" if prefix else ""
        path = f"{prefix}{index}" if prefix else ""
        out.append(Item(native_signal(raw, ctx, where), path))
    return out


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
    system = map_system(explicit, labels, ctx.known_systems)
    if explicit and system is None:
        # Keep what the sender said, so an unmapped signal still shows where it came from.
        labels.setdefault("system", explicit)
    source = source or "native"
    fingerprint = _text(
        raw, "fingerprint", where, required=False, limit=MAX_FINGERPRINT
    ) or label_fingerprint(source, system, kind, labels)
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
