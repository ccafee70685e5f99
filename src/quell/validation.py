"""Turning pydantic validation errors into one readable line that names the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


def field_path(loc: Sequence[Any]) -> str:
    """('systems', 1, 'kind') -> 'systems[1].kind'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def describe(error: dict[str, Any]) -> str:
    path = field_path(error.get("loc", ()))
    message = str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error.get("type") == "extra_forbidden":
        message = "unknown field"
    return f"{path}: {message}" if path else message


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(field path, one-line message) of the first error, and a count of any others."""
    errors = exc.errors()
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return field_path(first.get("loc", ())), describe(dict(first)) + more
