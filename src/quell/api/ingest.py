"""Intake routes: native signals, Alertmanager, PagerDuty Events v2, change events; read-back.

The intake handlers read the raw body themselves and parse it once with orjson (no pydantic
model on the fast path), authenticate from a short-lived token cache, validate on the event
loop and hand the items to the engine's group-commit writer (``quell.ingest.committer``). A
2xx is sent only after the transaction holding the signal has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from quell.api.deps import admin, get_session, token_from_request, viewer
from quell.auth.service import Principal, authenticate_token
from quell.errors import InvalidInput, PayloadTooLarge, QuellError, Unauthorized
from quell.ingest import integrations as integ
from quell.ingest import service
from quell.ingest import tokens as token_cache
from quell.ingest.alertmanager import parse_alertmanager
from quell.ingest.changes import change_to_dict, record_changes
from quell.ingest.committer import Committer
from quell.ingest.native import parse_native
from quell.ingest.normalise import Context, Item
from quell.ingest.pagerduty import InvalidEvent, parse_pagerduty, routing_key_of
from quell.store.db import session_scope
from quell.timeutil import parse_time, utcnow

router = APIRouter(tags=["ingest"])
log = logging.getLogger("quell.ingest")

# Largest request body intake reads; a longer one is refused with 413 before it is parsed.
MAX_BODY_BYTES: Final = 10 * 1024 * 1024
INTAKE_ROLE: Final = "reporter"  # reporter, responder or admin


class MalformedJSON(QuellError):
    status_code = 400
    code = "malformed_json"


class NotStored(QuellError):
    status_code = 503
    code = "not_stored"


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _read_json(request: Request) -> tuple[Any, str]:
    """The body parsed once, and as text for the verbatim copy; 413 and 400 before anything else."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJSON(f"the body is not valid JSON: {exc}") from None
    return parsed, body.decode("utf-8")


def _caller(request: Request, session: Session) -> Principal:
    """The intake caller: a bearer token of a reporter, a responder or an admin."""
    token = token_from_request(request)
    if not token:
        raise Unauthorized("an API token is needed: send 'Authorization: Bearer <token>'")
    who = authenticate_token(session, token)
    who.require(INTAKE_ROLE)
    return who


async def _sender(request: Request) -> Principal:
    """The intake caller, from the token cache when it authenticated in the last seconds."""
    token = token_from_request(request)
    if not token:
        raise Unauthorized("an API token is needed: send 'Authorization: Bearer <token>'")
    engine = request.app.state.engine
    who = token_cache.cached(engine, token)
    if who is None:
        who = await run_in_threadpool(token_cache.authenticate, engine, token)
    who.require(INTAKE_ROLE)
    return who


def _max_batch(request: Request) -> int:
    return int(request.app.state.settings.max_batch)


async def _intake(
    request: Request, source: str, parse: Callable[[Any, Context, int], list[Item]]
) -> Response:
    """Read, authenticate, validate, then store through group commit; 202 after the commit."""
    received_at = utcnow()
    parsed, text = await _read_json(request)
    who = await _sender(request)
    max_batch = _max_batch(request)
    committer = Committer.for_engine(request.app.state.engine)

    def items_for(known: frozenset[str]) -> list[Item]:
        return parse(parsed, Context(received_at, known), max_batch)

    # Validated here, before the writer sees it: a bad request is refused alone, unwritten.
    known = committer.known
    items = items_for(known if known is not None else frozenset())
    envelope = service.Envelope(
        source, text, who.name, received_at, items, known=known, reparse=items_for
    )
    result = await _committed(committer, envelope)
    return _json(result.to_dict(), 202)


async def _committed(committer: Committer, envelope: service.Envelope) -> service.IngestResult:
    """Wait for the envelope's commit; a store failure becomes a 5xx saying nothing was stored."""
    try:
        return await committer.store(envelope)
    except QuellError:
        raise
    except Exception as exc:
        log.exception("intake: a %s request was not stored", envelope.source)
        raise NotStored(
            "the request was not stored (a database error); sending it again is safe"
        ) from exc


def _native(parsed: Any, ctx: Context, max_batch: int) -> list[Item]:
    return parse_native(parsed, ctx, max_batch=max_batch)


def _alertmanager(parsed: Any, ctx: Context, max_batch: int) -> list[Item]:
    return parse_alertmanager(parsed, ctx, max_batch=max_batch)


@router.post("/signals", status_code=202)
async def post_signals(request: Request) -> Response:
    """One native signal, ``{"signals": [...]}`` or a list; stored whole or refused whole."""
    return await _intake(request, "native", _native)


@router.post("/integrations/alertmanager", status_code=202)
async def post_alertmanager(request: Request) -> Response:
    """Alertmanager's webhook (v4); point a webhook_config here with bearer credentials."""
    return await _intake(request, "alertmanager", _alertmanager)


def _pd_error(exc: QuellError) -> JSONResponse:
    status = exc.status_code
    if status >= 500:  # not stored: PagerDuty senders retry on 5xx
        return JSONResponse({"status": "error", "message": exc.message}, status_code=status)
    status = status if status in (401, 403, 413) else 400
    body: dict[str, Any] = {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [exc.message],
    }
    if exc.field:
        body["field"] = exc.field
    return JSONResponse(body, status_code=status)


@router.post("/integrations/pagerduty", status_code=202)
async def post_pagerduty(request: Request) -> Response:
    """PagerDuty Events API v2; the routing key authenticates the sender and names the system."""
    received_at = utcnow()
    try:
        parsed, text = await _read_json(request)
        routing_key = routing_key_of(parsed)
    except QuellError as exc:
        return _pd_error(exc)

    def prepare() -> tuple[str, service.Envelope]:
        # Routing keys are credentials that change rarely; looked up per event, in a thread.
        with session_scope(request.app.state.engine) as session:
            integration = integ.by_routing_key(session, routing_key)
            if integration is not None:
                sender, system = f"integration:{integration.name}", integration.system
            elif token_from_request(request):
                # A sender that can send headers may use an unregistered key with a token.
                sender, system = _caller(request, session).name, None
            else:
                raise InvalidEvent(
                    "'routing_key' is not a known integration key (see quell.yaml integrations:)",
                    field="routing_key",
                )
            known = service.known_systems(session)
        ctx = Context(received_at, known, routing_system=system)
        # The dedup key may be generated here, so the event is not parsed a second time.
        item, dedup_key = parse_pagerduty(parsed, ctx, routing_key)
        return dedup_key, service.Envelope("pagerduty", text, sender, received_at, [item])

    try:
        dedup_key, envelope = await run_in_threadpool(prepare)
        await _committed(Committer.for_engine(request.app.state.engine), envelope)
    except QuellError as exc:
        return _pd_error(exc)
    return _json({"status": "success", "message": "Event processed", "dedup_key": dedup_key}, 202)


@router.post("/changes", status_code=201)
async def post_changes(request: Request) -> Response:
    """Change events (deploy, model_version, prompt, config, feature_flag, guardrail)."""
    parsed, _text = await _read_json(request)
    max_batch = _max_batch(request)

    def work() -> list[dict[str, Any]]:
        with session_scope(request.app.state.engine) as session:
            who = _caller(request, session)
            return record_changes(session, parsed, actor=who.name, max_batch=max_batch)

    return _json({"changes": await run_in_threadpool(work)}, 201)


# Intake's POST routes by path under the API prefix: the app answers these before its router
# and middleware (see quell.api.app.QuellApp); each takes only the request.
INTAKE_POSTS: Final[dict[str, Callable[[Request], Awaitable[Response]]]] = {
    "/signals": post_signals,
    "/integrations/alertmanager": post_alertmanager,
    "/integrations/pagerduty": post_pagerduty,
}


# --- reading back --------------------------------------------------------------------------


@router.get("/signals")
def get_signals(
    system: str | None = None,
    unmapped: bool = False,
    source: str | None = None,
    alert: int | None = None,
    before: int | None = Query(None, description="Only signals with a smaller id (paging)."),
    limit: int = Query(100, ge=1, le=1000),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> Response:
    """Signals newest first; ``unmapped=true`` shows those no AI system was found for."""
    rows = service.list_signals(
        session,
        system=system,
        unmapped=unmapped,
        source=source,
        alert_id=alert,
        before_id=before,
        limit=limit,
    )
    return _json([service.signal_to_dict(r) for r in rows])


@router.get("/signals/{signal_id}")
def get_signal(
    signal_id: int, session: Session = Depends(get_session), _who: Principal = Depends(viewer)
) -> Response:
    """One signal, with its part of the received body (``raw``) and where the body is kept."""
    row = service.get_signal(session, signal_id)
    payload, raw = service.raw_item(session, row)
    data = service.signal_to_dict(row)
    data["raw"] = raw
    data["payload"] = {
        "id": payload.id,
        "source": payload.source,
        "received_at": payload.received_at.isoformat(),
        "received_by": payload.received_by,
    }
    return _json(data)


@router.get("/signals/{signal_id}/payload")
def get_signal_payload(
    signal_id: int, session: Session = Depends(get_session), _who: Principal = Depends(viewer)
) -> Response:
    """The whole request body the signal arrived in, byte for byte."""
    payload, _ = service.raw_item(session, service.get_signal(session, signal_id))
    return Response(payload.body.encode("utf-8"), media_type="application/json")


@router.get("/alerts")
def get_alerts(
    incident: int | None = None,
    status: str | None = None,
    system: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> Response:
    """Deduplicated alerts, newest first; ``incident=ID`` lists those that joined an incident."""
    rows = service.list_alerts(
        session, incident_id=incident, status=status, system=system, limit=limit
    )
    return _json([service.alert_to_dict(a) for a in rows])


@router.get("/incidents/{incident_id}/signals")
def get_incident_signals(
    incident_id: int, session: Session = Depends(get_session), _who: Principal = Depends(viewer)
) -> Response:
    """An incident's signals, duplicates collapsed into their alert (count, latest signal)."""
    return _json(service.incident_signals(session, incident_id))


@router.get("/changes")
def get_changes(
    system: list[str] = Query(..., description="AI system name; repeat for several."),
    since: str = Query(..., description="RFC 3339 time"),
    until: str | None = Query(None, description="RFC 3339 time; default now"),
    session: Session = Depends(get_session),
    _who: Principal = Depends(viewer),
) -> Response:
    """Changes to the named systems between `since` and `until`, oldest first."""
    start = _time_param(since, "since")
    end = _time_param(until, "until") if until else utcnow()
    rows = service.changes_for(session, system, start, end)
    return _json([change_to_dict(c) for c in rows])


def _time_param(value: str, name: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError:
        raise InvalidInput(f"{name}: {value!r} is not an RFC 3339 time", field=name) from None


# --- integrations (routing keys) -----------------------------------------------------------


@router.get("/integrations")
def get_integrations(
    session: Session = Depends(get_session), _who: Principal = Depends(admin)
) -> Response:
    """Routing-key integrations and the system each maps to."""
    return _json(
        [integ.integration_to_dict(r, reveal=True) for r in integ.list_integrations(session)]
    )


@router.post("/integrations", status_code=201)
def post_integration(
    spec: integ.IntegrationIn,
    session: Session = Depends(get_session),
    _who: Principal = Depends(admin),
) -> Response:
    """Create or update an integration; a routing key is generated when none is given."""
    outcome, row = integ.upsert_integration(session, spec)
    data = integ.integration_to_dict(row, reveal=True)
    data["outcome"] = outcome
    return _json(data, 201 if outcome == "created" else 200)
