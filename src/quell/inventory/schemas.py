"""Validated shapes of inventory entries, shared by quell.yaml and the API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quell.compliance.regimes import regime_keys
from quell.timeutil import check_time_zone

SystemKind = Literal["generative", "agent", "predictive"]
Criticality = Literal["low", "medium", "high", "critical"]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MemberIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    email: str | None = None
    phone: str | None = None
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_time_zone(value)


class TeamIn(Strict):
    name: Name
    description: str = ""
    slack_channel: str | None = None
    members: list[MemberIn] = Field(default_factory=list)


class SystemIn(Strict):
    name: Name
    kind: SystemKind
    description: str = ""
    owner_team: str | None = None
    criticality: Criticality = "medium"
    depends_on: list[str] = Field(default_factory=list, description="upstream systems")
    current_model_version: str | None = None
    previous_model_version: str | None = None
    safe_fallback: str | None = None
    data_classes: list[str] = Field(default_factory=list)
    regimes: list[str] = Field(default_factory=list)
    runbooks: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("regimes")
    @classmethod
    def _known_regimes(cls, value: list[str]) -> list[str]:
        known = regime_keys()
        unknown = [r for r in value if r not in known]
        if unknown:
            raise ValueError(f"unknown regime(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return value


class RiskIn(Strict):
    key: Annotated[str, Field(min_length=1, max_length=100)]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    description: str = ""
    system: str | None = None
    likelihood: Annotated[int, Field(ge=1, le=5)] = 3
    impact: Annotated[int, Field(ge=1, le=5)] = 3
    owner: str | None = None
    controls: list[str] = Field(default_factory=list)
    status: Literal["open", "mitigated", "accepted", "closed"] = "open"
    archetype: str | None = None
    incidents: list[int] = Field(default_factory=list, description="linked incident ids")
