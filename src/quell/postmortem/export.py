"""Postmortem export as Markdown and HTML, from Jinja2 templates (HTML autoescaped)."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from jinja2 import Environment, PackageLoader
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.inventory.models import Risk, risk_incidents
from quell.postmortem.service import get_postmortem, timeline_rows

Format = Literal["md", "html"]


def _fmt(value: Any) -> str:
    """One readable value: lists joined, dicts as key: value, None as a dash."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) or "-"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) or "-"
    return str(value)


def _duration(seconds: float) -> str:
    """Seconds as the two largest units: 3d 4h, 2h 5m, 4m 10s."""
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


def _field(item: tuple[str, Any]) -> str:
    """One `key: value` line of a section, with durations and times made readable."""
    key, value = item
    label = key.replace("_", " ")
    if key.endswith("_s"):
        label = label[:-2]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{label}: {_duration(float(value))}"
    if key.endswith("_at") and isinstance(value, str) and len(value) >= 16:
        return f"{label}: {value[:16].replace('T', ' ')} UTC"
    return f"{label}: {_fmt(value)}"


def _md(value: Any) -> str:
    """Keep a table cell on one line and its pipes literal."""
    return str(value or "").replace("|", "\\|").replace("\n", " ")


@cache
def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("quell.postmortem", "templates"),
        autoescape=autoescape,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = _fmt
    env.filters["md"] = _md
    env.filters["field"] = _field
    return env


def render_postmortem(session: Session, incident_id: int, fmt: Format) -> str:
    """The postmortem (stored, or the pre-filled draft) with its timeline, as md or html."""
    pm = get_postmortem(session, incident_id)
    named = {r.get("key") for r in pm.get("risks", [])}
    linked = set(
        session.scalars(
            select(risk_incidents.c.risk_id).where(risk_incidents.c.incident_id == incident_id)
        )
    )
    rows = session.scalars(
        select(Risk).where((Risk.key.in_(named)) | (Risk.id.in_(linked))).order_by(Risk.key)
    )
    risks = [
        {
            "key": r.key,
            "title": r.title,
            "score": r.likelihood * r.impact,
            "status": r.status,
            "linked": r.id in linked,
        }
        for r in rows
    ]
    factors = [
        (name, value)
        for name, value in (pm.get("root_cause", {}).get("factors") or {}).items()
        if isinstance(value, dict)
    ]
    template = _environment(fmt == "html").get_template(f"postmortem.{fmt}.j2")
    return template.render(
        pm=pm, timeline=timeline_rows(session, incident_id), factors=factors, risks=risks
    )
