"""The quell.yaml sections of escalation: ``notifications``, ``schedules`` and
``escalation_policies`` (applied in that order, so a policy can name a schedule in the same
file)."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.errors import InvalidInput
from quell.escalation.notify import apply_notifications
from quell.escalation.oncall import upsert_schedule
from quell.escalation.policies import upsert_policy
from quell.escalation.schemas import NotificationsIn, PolicyIn, ScheduleIn


class SchedulesIn(RootModel[list[ScheduleIn]]):
    """`schedules:` is a list of on-call schedules."""


class PoliciesIn(RootModel[list[PolicyIn]]):
    """`escalation_policies:` is a list of policies."""


def _each(section: str, items: list[Any], upsert: Any, session: Session) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, item in enumerate(items):
        if item.name in out:
            raise InvalidInput(f"{item.name!r} appears twice", field=f"{section}[{index}].name")
        try:
            out[item.name] = upsert(session, item)
        except InvalidInput as exc:
            where = f"{section}[{index}]" + (f".{exc.field}" if exc.field else "")
            raise InvalidInput(exc.message, field=where) from None
    return out


def apply_schedules(session: Session, section: SchedulesIn) -> dict[str, str]:
    return _each("schedules", section.root, upsert_schedule, session)


def apply_policies(session: Session, section: PoliciesIn) -> dict[str, str]:
    return _each("escalation_policies", section.root, upsert_policy, session)


register_section("notifications", NotificationsIn, apply_notifications)
register_section("schedules", SchedulesIn, apply_schedules)
register_section("escalation_policies", PoliciesIn, apply_policies)
