"""Notifiers: Slack incoming webhooks, signed generic webhooks and email over SMTP.

Every attempt and its outcome goes on the incident's timeline (``notification.sent`` /
``notification.failed``). A failed attempt is retried with exponential backoff through the
scheduler (a durable job, not a sleep), up to the delivery's ``max_attempts``.

Signed webhooks carry ``X-Quell-Timestamp`` (Unix seconds) and
``X-Quell-Signature: sha256=<hex>``, the HMAC-SHA256 with the channel's secret over
``<timestamp>.<raw body>``; a receiver recomputes it and rejects old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from quell import scheduler
from quell.errors import InvalidInput
from quell.escalation.models import Delivery, NotificationChannel
from quell.escalation.schemas import AUDIENCES, ChannelIn, NotificationsIn
from quell.incidents.models import Incident
from quell.incidents.timeline import append_event
from quell.store.db import first_or_missing
from quell.timeutil import iso, utcnow

RETRY_JOB = "notification.retry"
HTTP_TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Quell-Signature"
TIMESTAMP_HEADER = "X-Quell-Timestamp"


class DeliveryError(Exception):
    """One attempt failed; `status_code` is set when the far end answered."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Message:
    """What is being sent, independent of the channel it goes through."""

    subject: str
    body: str
    incident: dict[str, Any] | None
    audience: str | None
    delivery_id: int
    attempt: int


@dataclass(frozen=True)
class SmtpSettings:
    """SMTP server for email channels, from QUELL_SMTP_* environment variables."""

    host: str = "localhost"  # QUELL_SMTP_HOST
    port: int = 25  # QUELL_SMTP_PORT
    starttls: bool = False  # QUELL_SMTP_STARTTLS=1
    user: str | None = None  # QUELL_SMTP_USER
    password: str | None = None  # QUELL_SMTP_PASSWORD
    sender: str = "quell@localhost"  # QUELL_SMTP_FROM

    @staticmethod
    def configured() -> bool:
        """Whether an SMTP server was named; without one, people are not emailed pages."""
        return bool(os.environ.get("QUELL_SMTP_HOST"))

    @classmethod
    def from_env(cls) -> SmtpSettings:
        env = os.environ
        return cls(
            host=env.get("QUELL_SMTP_HOST", "localhost"),
            port=int(env.get("QUELL_SMTP_PORT", "25")),
            starttls=env.get("QUELL_SMTP_STARTTLS", "0").lower() in ("1", "true", "yes"),
            user=env.get("QUELL_SMTP_USER") or None,
            password=env.get("QUELL_SMTP_PASSWORD") or None,
            sender=env.get("QUELL_SMTP_FROM", "quell@localhost"),
        )


# ---------------------------------------------------------------- wire formats


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300
) -> bool:
    """What a receiver does: recompute the HMAC and refuse stale timestamps (replays)."""
    try:
        age = abs(time.time() - float(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def slack_payload(message: Message) -> dict[str, Any]:
    """An incoming-webhook body: plain `text` for notifications, `blocks` for the channel."""
    incident = message.incident or {}
    fields = []
    if incident:
        fields = [
            {"type": "mrkdwn", "text": f"*Incident*\n#{incident['id']} {incident['title']}"},
            {"type": "mrkdwn", "text": f"*Severity*\n{incident['severity']}"},
            {"type": "mrkdwn", "text": f"*Status*\n{incident['status']}"},
            {"type": "mrkdwn", "text": f"*Systems*\n{', '.join(incident['systems']) or '-'}"},
        ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": message.body[:2900] or " "}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    return {"text": f"{message.subject}\n{message.body}"[:3000], "blocks": blocks}


def webhook_payload(message: Message) -> dict[str, Any]:
    return {
        "event": "quell.notification",
        "delivery_id": message.delivery_id,
        "attempt": message.attempt,
        "audience": message.audience,
        "subject": message.subject,
        "body": message.body,
        "incident": message.incident,
    }


def email_message(message: Message, sender: str, to: list[str]) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(to)
    email["Subject"] = message.subject
    email["X-Quell-Delivery"] = str(message.delivery_id)
    if message.incident:
        email["X-Quell-Incident"] = str(message.incident["id"])
    email.set_content(message.body)
    return email


# ---------------------------------------------------------------- transports


def _env(name: str | None, what: str) -> str:
    value = os.environ.get(name or "", "")
    if not value:
        raise DeliveryError(f"environment variable {name} ({what}) is not set")
    return value


def _url(config: dict[str, Any]) -> str:
    return str(config.get("url") or _env(config.get("url_env"), "the webhook URL"))


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    try:
        response = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=HTTP_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    if response.status_code >= 300:
        raise DeliveryError(
            f"HTTP {response.status_code}: {response.text[:200]}", response.status_code
        )
    return response.status_code


def send_slack(config: dict[str, Any], message: Message) -> int:
    return _post(_url(config), orjson.dumps(slack_payload(message)), {})


def send_webhook(config: dict[str, Any], message: Message) -> int:
    secret = _env(config.get("secret_env"), "the webhook signing secret")
    body = orjson.dumps(webhook_payload(message))
    stamp = str(int(time.time()))
    headers = {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
        "X-Quell-Delivery": str(message.delivery_id),
    }
    return _post(_url(config), body, headers)


def send_email(config: dict[str, Any], message: Message) -> int:
    smtp = SmtpSettings.from_env()
    to = list(config.get("to") or [])
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=HTTP_TIMEOUT_S) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.user:
                client.login(smtp.user, smtp.password or "")
            refused = client.send_message(email_message(message, smtp.sender, to))
    except (OSError, smtplib.SMTPException) as exc:
        code = getattr(exc, "smtp_code", None)
        raise DeliveryError(f"{type(exc).__name__}: {exc}", code) from None
    if refused:
        raise DeliveryError(f"refused recipients: {', '.join(refused)}")
    return 250


# The seam for another notifier: a channel type -> function(config, message) -> status code.
TRANSPORTS: dict[str, Callable[[dict[str, Any], Message], int]] = {
    "slack": send_slack,
    "webhook": send_webhook,
    "email": send_email,
}


# ---------------------------------------------------------------- channels


def apply_notifications(session: Session, section: NotificationsIn) -> dict[str, str]:
    """quell.yaml `notifications:`: upsert each named channel (channels not named stay)."""
    return {c.name: upsert_channel(session, c) for c in section.channels}


def upsert_channel(session: Session, spec: ChannelIn) -> str:
    config = spec.model_dump(include={"url", "url_env", "secret_env", "to"}, exclude_none=True)
    values = {
        "type": spec.type,
        "config": config,
        "audiences": list(spec.audiences),
        "teams": list(spec.teams),
    }
    row = session.scalars(
        select(NotificationChannel).where(NotificationChannel.name == spec.name)
    ).first()
    if row is None:
        session.add(NotificationChannel(name=spec.name, **values))
        session.flush()
        return "created"
    if all(getattr(row, k) == v for k, v in values.items()):
        return "unchanged"
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    return "updated"


def list_channels(session: Session) -> list[NotificationChannel]:
    return list(session.scalars(select(NotificationChannel).order_by(NotificationChannel.name)))


def get_channel(session: Session, name: str) -> NotificationChannel:
    return first_or_missing(
        session,
        select(NotificationChannel).where(NotificationChannel.name == name),
        f"notification channel {name!r} does not exist",
    )


def channel_to_dict(row: NotificationChannel) -> dict[str, Any]:
    # Names of environment variables are shown; their values (secrets) never are.
    return {
        "name": row.name,
        "type": row.type,
        "target": _describe_target(row.type, row.config),
        "url_env": row.config.get("url_env"),
        "secret_env": row.config.get("secret_env"),
        "audiences": row.audiences,
        "teams": row.teams,
    }


def channels_for_team(session: Session, team: str) -> list[NotificationChannel]:
    return [c for c in list_channels(session) if team in c.teams]


def _describe_target(kind: str, config: dict[str, Any]) -> str:
    if kind == "email":
        return ", ".join(config.get("to") or [])
    if config.get("url"):
        parts = urlsplit(str(config["url"]))
        return f"{parts.scheme}://{parts.netloc}"  # the path of a Slack URL is its secret
    return f"${config.get('url_env')}"


# ---------------------------------------------------------------- sending


def _incident_view(incident: Incident | None) -> dict[str, Any] | None:
    if incident is None:
        return None
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "archetype": incident.archetype,
        "systems": [s.name for s in incident.systems],
        "detected_at": iso(incident.detected_at),
    }


def _channel_for(
    session: Session, target: str | NotificationChannel
) -> tuple[str, str, dict[str, Any]]:
    """(channel name, type, config) for a channel or a bare ``mailto:address``."""
    if isinstance(target, NotificationChannel):
        return target.name, target.type, dict(target.config)
    if target.startswith("mailto:"):
        address = target[len("mailto:") :].strip()
        if "@" not in address:
            raise InvalidInput(f"{address!r} is not an email address", field="target")
        return "email", "email", {"to": [address]}
    row = get_channel(session, target)
    return row.name, row.type, dict(row.config)


def send(
    session: Session,
    incident: Incident | None,
    target: str | NotificationChannel,
    *,
    subject: str,
    body: str,
    actor: str,
    audience: str | None = None,
    max_attempts: int = 5,
) -> Delivery:
    """Send one message now to a channel (by name) or to ``mailto:address``; a failure is
    recorded and retried later by the scheduler. Returns the delivery with its outcome."""
    if not subject.strip():
        raise InvalidInput("a notification needs a subject", field="subject")
    name, kind, config = _channel_for(session, target)
    delivery = Delivery(
        incident_id=incident.id if incident is not None else None,
        channel=name,
        channel_type=kind,
        target=_describe_target(kind, config),
        subject=subject.strip()[:300],
        body=body,
        audience=audience,
        actor=actor,
        status="pending",
        max_attempts=max_attempts,
        created_at=utcnow(),
    )
    session.add(delivery)
    session.flush()
    _attempt(session, delivery, incident, config)
    return delivery


def broadcast(
    session: Session,
    incident: Incident | None,
    *,
    subject: str,
    body: str,
    audience: str,
    actor: str,
) -> list[Delivery]:
    """Send to every channel configured for the audience (and, when a channel lists teams,
    only for incidents on those teams' systems)."""
    if audience not in AUDIENCES:
        raise InvalidInput(
            f"unknown audience {audience!r}; expected one of {', '.join(AUDIENCES)}",
            field="audience",
        )
    teams = (
        {s.owner_team.name for s in incident.systems if s.owner_team is not None}
        if incident is not None
        else set()
    )
    out = []
    for channel in list_channels(session):
        if audience not in channel.audiences:
            continue
        if channel.teams and incident is not None and not teams & set(channel.teams):
            continue
        out.append(
            send(
                session,
                incident,
                channel,
                subject=subject,
                body=body,
                actor=actor,
                audience=audience,
            )
        )
    return out


def _attempt(
    session: Session, delivery: Delivery, incident: Incident | None, config: dict[str, Any]
) -> None:
    """One try; the outcome goes on the delivery, the timeline, and maybe a retry job."""
    delivery.attempts += 1
    message = Message(
        delivery.subject,
        delivery.body,
        _incident_view(incident),
        delivery.audience,
        delivery.id,
        delivery.attempts,
    )
    transport = TRANSPORTS.get(delivery.channel_type)
    try:
        if transport is None:
            raise DeliveryError(f"no notifier for channel type {delivery.channel_type!r}")
        delivery.status_code = transport(config, message)
        delivery.status, delivery.error = "sent", None
    except DeliveryError as exc:
        delivery.status_code, delivery.error = exc.status_code, str(exc)[:2000]
        delivery.status = "retrying" if delivery.attempts < delivery.max_attempts else "failed"
    delivery.updated_at = utcnow()
    retry_at = None
    if delivery.status == "retrying":
        retry_at = scheduler.now() + scheduler.backoff(delivery.attempts)
        scheduler.schedule(
            session,
            RETRY_JOB,
            retry_at,
            {"delivery_id": delivery.id, "incident_id": delivery.incident_id},
            key=f"delivery:{delivery.id}",
        )
    if incident is not None:
        append_event(
            session,
            incident,
            actor=delivery.actor,
            kind="notification.sent" if delivery.status == "sent" else "notification.failed",
            data={
                "delivery_id": delivery.id,
                "channel": delivery.channel,
                "type": delivery.channel_type,
                "target": delivery.target,
                "audience": delivery.audience,
                "subject": delivery.subject,
                "attempt": delivery.attempts,
                "status_code": delivery.status_code,
                "error": delivery.error,
                "retry_at": iso(retry_at),
                "gave_up": delivery.status == "failed",
            },
        )
    session.flush()


def _retry(session: Session, payload: dict[str, Any]) -> None:
    """Scheduler job: try a failed delivery again."""
    delivery = session.get(Delivery, int(payload["delivery_id"]))
    if delivery is None or delivery.status != "retrying":
        return
    incident = session.get(Incident, delivery.incident_id) if delivery.incident_id else None
    if delivery.channel_type == "email" and delivery.channel == "email":
        config: dict[str, Any] = {"to": [a.strip() for a in delivery.target.split(",")]}
    else:
        row = session.scalars(
            select(NotificationChannel).where(NotificationChannel.name == delivery.channel)
        ).first()
        if row is None:
            delivery.status, delivery.error = "failed", "the channel no longer exists"
            return
        config = dict(row.config)
    _attempt(session, delivery, incident, config)


scheduler.register(RETRY_JOB, _retry)


def delivery_to_dict(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "incident_id": delivery.incident_id,
        "channel": delivery.channel,
        "type": delivery.channel_type,
        "target": delivery.target,
        "audience": delivery.audience,
        "subject": delivery.subject,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "created_at": iso(delivery.created_at),
        "updated_at": iso(delivery.updated_at),
    }
