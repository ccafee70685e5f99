"""What starts a regulatory clock: the stage rules per regime, when a fact became known, and
the period arithmetic the deadlines in ``data/regulations.yaml`` need."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quell.errors import NotFound
from quell.incidents.models import Incident, TimelineEvent


@dataclass(frozen=True)
class StageRule:
    """Which facts start one stage of a regime, and what anchors its clock.

    `index` is the stage's position in regulations.yaml, where its deadline is read from.
    `anchor` is "fact" (when the first of `facts` became known), "met:<stage>" (when another
    stage was filed) or "resolved" (when the incident was resolved).
    """

    regime: str
    stage: str
    index: int
    facts: tuple[str, ...]
    anchor: str = "fact"
    anchor_kind: str = "aware"


def _rules() -> list[StageRule]:
    serious_ai_act = (
        "serious_incident",
        "death",
        "widespread_infringement",
        "critical_infrastructure_disruption",
    )
    gpai = (
        "critical_infrastructure_disruption",
        "serious_cybersecurity_breach",
        "death",
        "serious_harm",
    )
    return [
        StageRule("gdpr_art33", "notification", 0, ("personal_data_exposed",)),
        StageRule("eu_ai_act_art73", "general", 0, serious_ai_act),
        StageRule(
            "eu_ai_act_art73",
            "widespread",
            1,
            ("widespread_infringement", "critical_infrastructure_disruption"),
        ),
        StageRule("eu_ai_act_art73", "death", 2, ("death",)),
        StageRule("nis2_art23", "early_warning", 0, ("significant_incident",)),
        StageRule("nis2_art23", "incident_notification", 1, ("significant_incident",)),
        StageRule(
            "nis2_art23",
            "final_report",
            2,
            ("significant_incident",),
            anchor="met:incident_notification",
            anchor_kind="incident_notification",
        ),
        StageRule(
            "dora_art19", "initial", 0, ("major_ict_incident",), anchor_kind="classified_major"
        ),
        StageRule(
            "dora_art19",
            "intermediate",
            1,
            ("major_ict_incident",),
            anchor="met:initial",
            anchor_kind="initial_notification",
        ),
        StageRule(
            "dora_art19",
            "final",
            2,
            ("major_ict_incident",),
            anchor="met:intermediate",
            anchor_kind="latest_intermediate_report",
        ),
        StageRule(
            "sec_8k_item_105",
            "form_8k",
            0,
            ("material_cybersecurity_incident",),
            anchor_kind="materiality_determined",
        ),
        StageRule(
            "california_sb53",
            "critical_safety_incident",
            0,
            ("critical_safety_incident", "imminent_risk_of_death"),
            anchor_kind="discovered",
        ),
        StageRule(
            "california_sb53",
            "imminent_risk",
            1,
            ("imminent_risk_of_death",),
            anchor_kind="discovered",
        ),
        StageRule(
            "eu_gpai_systemic_risk",
            "critical_infrastructure",
            0,
            ("critical_infrastructure_disruption",),
        ),
        StageRule(
            "eu_gpai_systemic_risk", "cybersecurity_breach", 1, ("serious_cybersecurity_breach",)
        ),
        StageRule("eu_gpai_systemic_risk", "death", 2, ("death",)),
        StageRule("eu_gpai_systemic_risk", "serious_harm", 3, ("serious_harm",)),
        StageRule(
            "eu_gpai_systemic_risk", "final", 5, gpai, anchor="resolved", anchor_kind="resolved"
        ),
    ]


RULES: tuple[StageRule, ...] = tuple(_rules())


def rule(regime: str, stage: str) -> StageRule:
    for candidate in RULES:
        if candidate.regime == regime and candidate.stage == stage:
            return candidate
    known = sorted({f"{r.regime}/{r.stage}" for r in RULES})
    raise NotFound(f"no clock {regime}/{stage}; known clocks: {', '.join(known)}")


# ---------------------------------------------------------------- time arithmetic


def add_period(start: datetime, value: int, unit: str) -> datetime:
    """`start` plus a period from the data file (hours, days, weeks, months, business days)."""
    if unit == "hours":
        return start + timedelta(hours=value)
    if unit == "days":
        return start + timedelta(days=value)
    if unit == "weeks":
        return start + timedelta(weeks=value)
    if unit == "months":
        month = start.month - 1 + value
        year, month = start.year + month // 12, month % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)
    if unit == "business_days":
        # Weekends are skipped; public holidays are not known to quell.
        current, left = start, value
        while left:
            current += timedelta(days=1)
            if current.weekday() < 5:
                left -= 1
        return current
    raise ValueError(f"unknown period unit {unit!r}")


# ---------------------------------------------------------------- facts


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "y", "1")
    return bool(value) and value is not None


def _asserted(data: dict[str, Any], fact: str) -> tuple[bool, Any]:
    """Whether an event's data speaks about `fact`, and the value it gives."""
    if data.get("key") == fact or data.get("fact") == fact:
        return True, data.get("answer", data.get("value"))
    if fact in data and not isinstance(data.get(fact), dict):
        return True, data[fact]
    facts = data.get("facts")
    if isinstance(facts, dict) and fact in facts:
        return True, facts[fact]
    return False, None


def fact_known_at(incident: Incident, events: list[TimelineEvent], fact: str) -> datetime | None:
    """When `fact` became known to be true, or None if it is not (now) true.

    The latest statement on the timeline decides whether it holds; the clock runs from the
    first time it was said to be true. A fact the incident was created with counts from the
    incident's detection: the earliest it can have been known, so the deadline errs early."""
    first_true: datetime | None = None
    current: Any = incident.facts.get(fact)
    spoken = False
    for event in events:
        if event.kind == "incident.created":
            continue
        said, value = _asserted(event.data or {}, fact)
        if not said:
            continue
        spoken, current = True, value
        if _truthy(value) and first_true is None:
            first_true = event.at
    if not _truthy(current):
        return None
    if first_true is not None:
        return first_true
    return incident.detected_at if not spoken else None
