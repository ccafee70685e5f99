"""Validated shapes of the escalation sections of quell.yaml, shared with the API:
``notifications``, ``schedules`` and ``escalation_policies``."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from quell.inventory.schemas import Name, Strict
from quell.timeutil import as_utc, check_time_zone

AUDIENCES = ("internal", "executive", "customer", "regulator")
Audience = Literal["internal", "executive", "customer", "regulator"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS: tuple[str, ...] = ALL_DAYS
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"{value!r} is not a time of day like 09:00")
    return value


# ---------------------------------------------------------------- notifications


class ChannelIn(Strict):
    """A named notification channel: where messages go, and who uses it."""

    name: Name
    type: Literal["slack", "webhook", "email"]
    url: str | None = Field(default=None, description="the webhook URL, written in the file")
    url_env: str | None = Field(default=None, description="environment variable holding the URL")
    secret_env: str | None = Field(
        default=None, description="environment variable holding the HMAC secret (webhook)"
    )
    to: list[str] = Field(default_factory=list, description="addresses (email)")
    audiences: list[Audience] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list, description="teams whose pages go here")

    @field_validator("url_env", "secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV.match(value):
            raise ValueError(f"{value!r} is not an environment variable name like QUELL_HOOK_URL")
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or " " in address.strip():
                raise ValueError(f"{address!r} is not an email address")
        return [a.strip() for a in value]

    @model_validator(mode="after")
    def _complete(self) -> ChannelIn:
        if self.type in ("slack", "webhook") and not (self.url or self.url_env):
            raise ValueError(f"channel {self.name!r}: a {self.type} channel needs url or url_env")
        if self.type == "webhook" and not self.secret_env:
            raise ValueError(
                f"channel {self.name!r}: a webhook channel needs secret_env (its body is signed)"
            )
        if self.type == "email" and not self.to:
            raise ValueError(f"channel {self.name!r}: an email channel needs at least one 'to'")
        return self


class NotificationsIn(Strict):
    channels: list[ChannelIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> NotificationsIn:
        seen: set[str] = set()
        for channel in self.channels:
            if channel.name in seen:
                raise ValueError(f"channel {channel.name!r} appears twice")
            seen.add(channel.name)
        return self


# ---------------------------------------------------------------- schedules


class Length(Strict):
    value: Annotated[int, Field(ge=1, le=10000)]
    unit: Literal["hours", "days", "weeks"]


class Window(Strict):
    """A daily on-call window in the schedule's time zone; `to` <= `from` runs past midnight."""

    days: list[Weekday] = Field(default_factory=lambda: list(ALL_DAYS))
    from_: str = Field(alias="from")
    to: str

    @field_validator("from_", "to")
    @classmethod
    def _times(cls, value: str) -> str:
        return _clock(value)


class RotationIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)] = "primary"
    members: Annotated[list[str], Field(min_length=1)]
    length: Length = Field(default_factory=lambda: Length(value=1, unit="weeks"))
    handoff: str = "09:00"
    start: date = Field(description="the first hand-off day, in the schedule's time zone")
    windows: list[Window] = Field(
        default_factory=list, description="when this rotation is on call; empty = all the time"
    )

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, value: str) -> str:
        return _clock(value)

    @field_validator("members")
    @classmethod
    def _no_blank(cls, value: list[str]) -> list[str]:
        names = [m.strip() for m in value]
        if any(not m for m in names):
            raise ValueError("a member name must not be empty")
        return names


class OverrideIn(Strict):
    person: Annotated[str, Field(min_length=1, max_length=100)]
    start: datetime
    end: datetime
    reason: str = ""

    @model_validator(mode="after")
    def _order(self) -> OverrideIn:
        self.start, self.end = as_utc(self.start), as_utc(self.end)
        if self.end <= self.start:
            raise ValueError(f"override for {self.person!r}: end must come after start")
        return self


class ScheduleIn(Strict):
    """An on-call schedule: rotations that together cover the week exactly once, and overrides."""

    name: Name
    team: str | None = None
    timezone: str = "UTC"
    rotations: Annotated[list[RotationIn], Field(min_length=1)]
    overrides: list[OverrideIn] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_time_zone(value)


# ---------------------------------------------------------------- escalation policies


class TargetIn(Strict):
    """Exactly one of: an on-call schedule, a whole team, one person."""

    schedule: str | None = None
    team: str | None = None
    person: str | None = None

    @model_validator(mode="after")
    def _one(self) -> TargetIn:
        given = [k for k in ("schedule", "team", "person") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a target names exactly one of schedule, team or person")
        return self

    def describe(self) -> str:
        for kind in ("schedule", "team", "person"):
            value = getattr(self, kind)
            if value:
                return f"{kind}:{value}"
        return "?"


class LevelIn(Strict):
    timeout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    targets: Annotated[list[TargetIn], Field(min_length=1)]


class PolicyIn(Strict):
    """Page level 1; if nobody acknowledges within its timeout, level 2; and so on."""

    name: Name
    description: str = ""
    teams: list[str] = Field(default_factory=list, description="teams that use this policy")
    systems: list[str] = Field(default_factory=list, description="systems that use this policy")
    levels: Annotated[list[LevelIn], Field(min_length=1)]
    repeat: Annotated[int, Field(ge=0, le=10)] = Field(
        default=0, description="times to start again from level 1 after the last level"
    )
    roles: dict[str, str] = Field(
        default_factory=dict, description="fixed people for playbook roles, e.g. legal_liaison"
    )

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        from quell.incidents.lifecycle import ROLES

        unknown = [r for r in value if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
        return value
