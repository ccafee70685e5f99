"""On-call schedules: who is on call at a given moment, and the check that a schedule covers
the whole week exactly once (a gap means nobody gets paged; an overlap means two people think
the other one has it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from quell.errors import InvalidInput
from quell.escalation.models import OnCallSchedule
from quell.escalation.schemas import WEEKDAYS, RotationIn, ScheduleIn
from quell.inventory.models import Team, TeamMember
from quell.store.db import first_or_missing
from quell.timeutil import as_utc, iso, utcnow

DAY_MIN = 24 * 60
WEEK_MIN = 7 * DAY_MIN
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class OnCall:
    """Who is on call for a schedule at an instant, and since/until when (UTC)."""

    schedule: str
    at: datetime
    person: str | None
    rotation: str | None
    source: str  # rotation | override | gap
    since: datetime | None
    until: datetime | None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "at": iso(self.at),
            "person": self.person,
            "rotation": self.rotation,
            "source": self.source,
            "since": iso(self.since),
            "until": iso(self.until),
            "reason": self.reason,
        }


# ---------------------------------------------------------------- coverage check


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _week_intervals(rotation: RotationIn) -> list[tuple[int, int]]:
    """The rotation's on-call time as [start, end) minutes of a Monday-based week."""
    if not rotation.windows:
        return [(0, WEEK_MIN)]
    out: list[tuple[int, int]] = []
    for window in rotation.windows:
        start, end = _minutes(window.from_), _minutes(window.to)
        length = end - start if end > start else DAY_MIN - start + end
        for day in window.days:
            begin = WEEKDAYS.index(day) * DAY_MIN + start
            finish = begin + length
            if finish <= WEEK_MIN:
                out.append((begin, finish))
            else:  # Sunday night into Monday morning wraps around the week
                out.extend([(begin, WEEK_MIN), (0, finish - WEEK_MIN)])
    return out


def _at(minute: int) -> str:
    minute %= WEEK_MIN
    day, rest = divmod(minute, DAY_MIN)
    return f"{DAY_NAMES[day]} {rest // 60:02d}:{rest % 60:02d}"


def check_coverage(spec: ScheduleIn) -> None:
    """Refuse a schedule whose rotations leave a gap or overlap anywhere in the week."""
    edges: set[int] = {0, WEEK_MIN}
    spans: list[tuple[int, int, str]] = []
    for rotation in spec.rotations:
        for begin, end in _week_intervals(rotation):
            spans.append((begin, end, rotation.name))
            edges.update((begin, end))
    points = sorted(edges)
    segments: list[tuple[int, int, list[str]]] = []
    for begin, end in pairwise(points):
        covering = sorted(name for b, e, name in spans if b <= begin and end <= e)
        if segments and segments[-1][2] == covering and segments[-1][1] == begin:
            segments[-1] = (segments[-1][0], end, covering)
        else:
            segments.append((begin, end, covering))
    if len(segments) > 1 and segments[0][2] == segments[-1][2]:
        # The week is a circle: Sunday night and Monday morning are one stretch.
        last = segments.pop()
        segments[0] = (last[0], segments[0][1] + WEEK_MIN, last[2])
    for begin, end, who in segments:
        if not who:
            raise InvalidInput(
                f"schedule {spec.name!r} has a gap: nobody is on call from {_at(begin)} to "
                f"{_at(end)} ({spec.timezone}); add a rotation or widen a window to cover it",
                field="rotations",
            )
    for begin, end, who in segments:
        if len(who) > 1:
            names = " and ".join(repr(n) for n in sorted(set(who)))
            same = len(set(who)) == 1
            what = f"rotation {names} covers twice" if same else f"rotations {names} overlap"
            raise InvalidInput(
                f"schedule {spec.name!r}: {what} from {_at(begin)} to {_at(end)} "
                f"({spec.timezone}); narrow a window so exactly one rotation is on call",
                field="rotations",
            )
    ordered = sorted(spec.overrides, key=lambda o: o.start)
    for first, second in pairwise(ordered):
        if second.start < first.end:
            raise InvalidInput(
                f"schedule {spec.name!r}: overrides for {first.person!r} and {second.person!r} "
                f"overlap from {iso(second.start)} to {iso(min(first.end, second.end))}",
                field="overrides",
            )


# ---------------------------------------------------------------- who is on call


def _in_windows(rotation: RotationIn, local: datetime) -> bool:
    minute = local.weekday() * DAY_MIN + local.hour * 60 + local.minute
    return any(b <= minute < e for b, e in _week_intervals(rotation))


def _shift(rotation: RotationIn, zone: ZoneInfo, at: datetime) -> tuple[int, datetime, datetime]:
    """(shift number since the rotation's start, shift start, shift end) around `at`."""
    handoff = time.fromisoformat(rotation.handoff)
    first = datetime.combine(rotation.start, handoff, tzinfo=zone)
    if rotation.length.unit == "hours":
        # Fixed-length shifts count real hours, whatever the wall clock does.
        period = timedelta(hours=rotation.length.value)
        number = (at - first) // period
        begin = first.astimezone(zone) + number * period
        return number, as_utc(begin), as_utc(begin + period)
    # Day and week shifts hand off at the same wall-clock time, across DST changes too.
    days = rotation.length.value * (7 if rotation.length.unit == "weeks" else 1)
    local = at.astimezone(zone)
    elapsed = (local.date() - rotation.start).days - (1 if local.time() < handoff else 0)
    number = elapsed // days
    begin_day: date = rotation.start + timedelta(days=number * days)
    begin = datetime.combine(begin_day, handoff, tzinfo=zone)
    end = datetime.combine(begin_day + timedelta(days=days), handoff, tzinfo=zone)
    return number, as_utc(begin), as_utc(end)


def on_call(spec: ScheduleIn, at: datetime) -> OnCall:
    """Who the schedule puts on call at `at` (an override wins over the rotations)."""
    at = as_utc(at)
    for override in spec.overrides:
        if override.start <= at < override.end:
            return OnCall(
                spec.name,
                at,
                override.person,
                None,
                "override",
                override.start,
                override.end,
                override.reason,
            )
    zone = ZoneInfo(spec.timezone)
    local = at.astimezone(zone)
    for rotation in spec.rotations:
        if _in_windows(rotation, local):
            number, since, until = _shift(rotation, zone, at)
            person = rotation.members[number % len(rotation.members)]
            return OnCall(spec.name, at, person, rotation.name, "rotation", since, until)
    return OnCall(spec.name, at, None, None, "gap", None, None)


# ---------------------------------------------------------------- storage


def schedule_spec(row: OnCallSchedule) -> ScheduleIn:
    return ScheduleIn.model_validate(row.spec)


def get_schedule(session: Session, name: str) -> OnCallSchedule:
    return first_or_missing(
        session,
        select(OnCallSchedule).where(OnCallSchedule.name == name),
        f"on-call schedule {name!r} does not exist",
    )


def list_schedules(session: Session) -> list[OnCallSchedule]:
    return list(session.scalars(select(OnCallSchedule).order_by(OnCallSchedule.name)))


def who_is_on_call(
    session: Session, schedule: str | OnCallSchedule, at: datetime | None = None
) -> OnCall:
    """Who is on call for the named schedule at `at` (default: now)."""
    row = get_schedule(session, schedule) if isinstance(schedule, str) else schedule
    return on_call(schedule_spec(row), at or utcnow())


def _check_people(session: Session, spec: ScheduleIn) -> None:
    if spec.team is None:
        return
    team = session.scalars(select(Team).where(Team.name == spec.team)).first()
    if team is None:
        raise InvalidInput(
            f"schedule {spec.name!r}: team {spec.team!r} does not exist", field="team"
        )
    members = set(session.scalars(select(TeamMember.name).where(TeamMember.team_id == team.id)))
    for index, rotation in enumerate(spec.rotations):
        for person in rotation.members:
            if person not in members:
                raise InvalidInput(
                    f"schedule {spec.name!r}: rotation {rotation.name!r} names {person!r}, "
                    f"who is not a member of team {spec.team!r}",
                    field=f"rotations[{index}].members",
                )


def upsert_schedule(session: Session, spec: ScheduleIn) -> str:
    """Create or replace a schedule after checking coverage; returns created/updated/unchanged."""
    check_coverage(spec)
    _check_people(session, spec)
    data = spec.model_dump(mode="json", by_alias=True)
    row = session.scalars(select(OnCallSchedule).where(OnCallSchedule.name == spec.name)).first()
    if row is None:
        session.add(
            OnCallSchedule(name=spec.name, team=spec.team, timezone=spec.timezone, spec=data)
        )
        session.flush()
        return "created"
    if row.spec == data and row.team == spec.team and row.timezone == spec.timezone:
        return "unchanged"
    row.spec, row.team, row.timezone = data, spec.team, spec.timezone
    session.flush()
    return "updated"


def schedule_to_dict(row: OnCallSchedule, at: datetime | None = None) -> dict[str, Any]:
    spec = schedule_spec(row)
    return {
        **spec.model_dump(mode="json", by_alias=True),
        "on_call_now": on_call(spec, at or utcnow()).to_dict(),
    }
