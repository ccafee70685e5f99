"""Time helpers: quell keeps every timestamp timezone-aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 / RFC 3339 timestamp (a trailing Z allowed) into aware UTC."""
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def check_time_zone(value: str) -> str:
    """Return `value` if it names an IANA time zone; a ValueError saying what to use if not."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name like Europe/Paris"
        ) from None
    return value
