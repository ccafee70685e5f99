"""Connectors: what carries out an approved containment action, and reports how it went.

Every kind of connector is one class registered here with ``@connector_kind``; quell.yaml's
``connectors:`` section names instances of them (URL, secret, timeout) and says which systems
and action types each one serves. Two kinds ship: ``webhook`` (a signed HTTP POST to your own
automation) and ``guard`` (quell's own policy decision point, for revoking and restoring agents).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Final

import httpx
import orjson
from pydantic import Field, RootModel, field_validator, model_validator
from sqlalchemy.orm import Session

from quell.config import register_section
from quell.errors import InvalidInput
from quell.inventory.schemas import Name, Strict
from quell.remediation.action_models import unknown_action_types
from quell.store.sections import store_section, stored_section

SECTION: Final = "connectors"
SIGNATURE_HEADER: Final = "X-Quell-Signature"
TIMESTAMP_HEADER: Final = "X-Quell-Timestamp"
EXCERPT_CHARS: Final = 500  # how much of a receiver's reply is kept on the action
GUARD_ACTIONS: Final = frozenset({"revoke_agent", "restore_agent"})


@dataclass(frozen=True)
class ActionRequest:
    """What a connector is asked to do: one approved action, with its incident and system."""

    action_id: int
    type: str
    incident: dict[str, Any]
    system: dict[str, Any]
    params: dict[str, Any]
    reason: str
    approved_by: str
    policy: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body a webhook receives."""
        return {
            "event": "quell.containment_action",
            "action": {
                "id": self.action_id,
                "type": self.type,
                "params": self.params,
                "reason": self.reason,
                "approved_by": self.approved_by,
                "policy": self.policy,
            },
            "incident": self.incident,
            "system": self.system,
        }


@dataclass(frozen=True)
class ConnectorResult:
    """How it went: ok or not, one line for the timeline, and details kept on the action."""

    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


class ConnectorSpec(Strict):
    """One entry of quell.yaml's `connectors:` section."""

    name: Name
    kind: str = "webhook"
    url: str | None = None
    secret_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = Field(
        default=None, description="name of the environment variable holding the HMAC secret"
    )
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    systems: list[str] = Field(default_factory=list, description="empty: every system")
    action_types: list[str] = Field(default_factory=list, description="empty: every type")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in CONNECTOR_KINDS:
            raise ValueError(
                f"unknown connector kind {value!r}; expected one of {', '.join(CONNECTOR_KINDS)}"
            )
        return value

    @field_validator("action_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        refused = unknown_action_types(value)
        if refused:
            raise ValueError(refused)
        return value

    @model_validator(mode="after")
    def _kind_rules(self) -> ConnectorSpec:
        CONNECTOR_KINDS[self.kind].check(self)
        return self


class ConnectorsSection(RootModel[list[ConnectorSpec]]):
    """quell.yaml `connectors:`: a list of connector specs with unique names."""

    @model_validator(mode="after")
    def _unique(self) -> ConnectorsSection:
        names = [c.name for c in self.root]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"connector name(s) {', '.join(twice)} appear more than once")
        return self


class Connector(ABC):
    """A way of carrying out containment actions; subclasses set `kind` and `execute`."""

    kind: ClassVar[str]

    def __init__(self, spec: ConnectorSpec) -> None:
        self.spec = spec

    @classmethod
    def check(cls, spec: ConnectorSpec) -> None:
        """Refuse a spec this kind cannot work with (raise ValueError naming the field)."""
        return None  # most kinds need nothing beyond the common fields

    @abstractmethod
    def execute(self, session: Session, request: ActionRequest) -> ConnectorResult:
        """Carry the action out; report failure as a result rather than raising."""


# The one place every connector kind is declared: kind name -> class.
CONNECTOR_KINDS: dict[str, type[Connector]] = {}


def connector_kind(cls: type[Connector]) -> type[Connector]:
    """Class decorator that makes a connector kind available to quell.yaml."""
    CONNECTOR_KINDS[cls.kind] = cls
    return cls


# ---------------------------------------------------------------- signing


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: HMAC-SHA256 over ``<timestamp>.<body>``, hex, sha256= prefix."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """For receivers: is the signature right and the timestamp recent (against replays)?"""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


# ---------------------------------------------------------------- the kinds


@connector_kind
class WebhookConnector(Connector):
    """POST the action as JSON to a URL, signed; any 2xx reply means it was carried out."""

    kind = "webhook"

    @classmethod
    def check(cls, spec: ConnectorSpec) -> None:
        if not spec.url or not spec.url.startswith(("http://", "https://")):
            raise ValueError("a webhook connector needs a url starting with http:// or https://")
        if not spec.secret_env:
            raise ValueError(
                "a webhook connector needs secret_env, the environment variable with its secret"
            )

    def execute(self, session: Session, request: ActionRequest) -> ConnectorResult:
        assert self.spec.url and self.spec.secret_env  # enforced by check()
        secret = os.environ.get(self.spec.secret_env, "")
        if not secret:
            # Never send unsigned: the receiver could not tell us from anyone else.
            return ConnectorResult(
                False,
                f"environment variable {self.spec.secret_env} is not set, so the request "
                "cannot be signed; nothing was sent",
            )
        body = orjson.dumps(request.payload(), option=orjson.OPT_SORT_KEYS)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "quell-connector",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            "X-Quell-Action": str(request.action_id),
        }
        try:
            reply = httpx.post(
                self.spec.url, content=body, headers=headers, timeout=self.spec.timeout_s
            )
        except httpx.TimeoutException:
            return ConnectorResult(
                False, f"no reply from {self.spec.url} within {self.spec.timeout_s:g}s"
            )
        except httpx.HTTPError as exc:
            return ConnectorResult(False, f"could not reach {self.spec.url}: {exc}")
        data = {"status_code": reply.status_code, "response": reply.text[:EXCERPT_CHARS]}
        if 200 <= reply.status_code < 300:
            return ConnectorResult(True, f"{self.spec.url} answered {reply.status_code}", data)
        return ConnectorResult(False, f"{self.spec.url} answered {reply.status_code}", data)


@connector_kind
class GuardConnector(Connector):
    """Revoke or restore an agent through quell's guard; the guard then denies its tool calls."""

    kind = "guard"

    def execute(self, session: Session, request: ActionRequest) -> ConnectorResult:
        if request.type not in GUARD_ACTIONS:
            return ConnectorResult(
                False, f"the guard carries out {' and '.join(sorted(GUARD_ACTIONS))} only"
            )
        try:
            from quell.remediation import guard
        except ImportError:
            return ConnectorResult(
                False, "the guard (quell.remediation.guard) is not installed in this quell"
            )
        call = guard.revoke_agent if request.type == "revoke_agent" else guard.restore_agent
        outcome = call(
            session,
            request.system["name"],
            actor=request.approved_by,
            reason=request.reason,
            incident_id=request.incident.get("id"),
        )
        verb = "revoked" if request.type == "revoke_agent" else "restored"
        data = dict(outcome) if isinstance(outcome, dict) else {"outcome": str(outcome)}
        return ConnectorResult(True, f"guard {verb} agent {request.system['name']}", data)


BUILTIN_GUARD = ConnectorSpec(name="guard", kind="guard")


# ---------------------------------------------------------------- choosing one


def configured_connectors(session: Session) -> list[ConnectorSpec]:
    stored = stored_section(session, SECTION)
    return ConnectorsSection.model_validate(stored).root if stored else []


def resolve_connector(session: Session, action_type: str, system: str) -> Connector | None:
    """The connector for this action on this system, or None when none is configured.

    The most specific entry wins (naming the system counts more than naming the type; ties go to
    the first declared). Agent revoke/restore use the built-in guard unless an entry names the
    system or the type explicitly, so a catch-all webhook cannot take the kill switch away.
    """
    best: tuple[int, ConnectorSpec] | None = None
    for spec in configured_connectors(session):
        if spec.systems and system not in spec.systems:
            continue
        if spec.action_types and action_type not in spec.action_types:
            continue
        score = 2 * bool(spec.systems) + bool(spec.action_types)
        if best is None or score > best[0]:
            best = (score, spec)
    if action_type in GUARD_ACTIONS and (best is None or best[0] == 0):
        best = (0, BUILTIN_GUARD)
    if best is None:
        return None
    spec = best[1]
    return CONNECTOR_KINDS[spec.kind](spec)


def _apply_section(session: Session, section: ConnectorsSection) -> dict[str, str]:
    from quell.inventory.models import AISystem

    names = {n for c in section.root for n in c.systems}
    if names:
        from sqlalchemy import select

        known = set(session.scalars(select(AISystem.name).where(AISystem.name.in_(names))))
        for index, spec in enumerate(section.root):
            missing = [n for n in spec.systems if n not in known]
            if missing:
                raise InvalidInput(
                    f"unknown AI system(s) {', '.join(missing)}",
                    field=f"connectors[{index}].systems",
                )
    outcome = store_section(session, SECTION, section.model_dump(mode="json"))
    return {c.name: outcome for c in section.root} or {"(none)": outcome}


register_section(SECTION, ConnectorsSection, _apply_section)
