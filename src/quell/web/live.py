"""Live updates: a server-sent event stream that says when incidents changed.

The server polls a cheap change token (latest incident update, incident count, latest timeline
event id) once a second and sends it when it moves; the page then fetches the fresh fragment.
A stream ends after a few minutes and the browser's EventSource reconnects by itself, so no
connection lives forever.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool

from quell.api.deps import get_engine_dep
from quell.incidents.models import Incident, TimelineEvent
from quell.store.db import session_scope
from quell.web.auth import LoginRequired, load_session
from quell.web.common import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

POLL_SECONDS = 1.0
STREAM_SECONDS = 300.0
HEARTBEAT_SECONDS = 15.0


_stopping = threading.Event()


def _watch_shutdown() -> None:
    """End open streams when the server is told to stop.

    uvicorn waits for every open response before it exits, so without this a browser tab
    left on the board would hold Ctrl-C for minutes. The handler is chained in front of the
    server's own; only the main thread may set one (the test server runs in a thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if getattr(previous, "_quell_stream_stop", False):
            continue

        def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            _stopping.set()
            if callable(previous):
                previous(signum, frame)

        handler._quell_stream_stop = True  # type: ignore[attr-defined]
        signal.signal(sig, handler)


def change_token(engine: Engine, incident_id: int | None = None) -> str:
    """A short string that changes whenever an incident (or the one given) changes."""
    with session_scope(engine) as session:
        incidents = select(func.max(Incident.updated_at), func.count(Incident.id))
        latest_event = select(func.max(TimelineEvent.id))
        if incident_id is not None:
            incidents = incidents.where(Incident.id == incident_id)
            latest_event = latest_event.where(TimelineEvent.incident_id == incident_id)
        updated, count = session.execute(incidents).one()
        event_id = session.scalar(latest_event)
    return f"{updated.isoformat() if updated else '-'}.{count}.{event_id or 0}"


async def _stream(request: Request, engine: Engine, incident_id: int | None) -> AsyncIterator[str]:
    _watch_shutdown()
    loop = asyncio.get_running_loop()
    started = loop.time()
    last_sent = started
    token = await run_in_threadpool(change_token, engine, incident_id)
    yield f"retry: 2000\nevent: hello\ndata: {token}\n\n"
    while loop.time() - started < STREAM_SECONDS and not _stopping.is_set():
        await asyncio.sleep(POLL_SECONDS)
        if await request.is_disconnected():
            return
        fresh = await run_in_threadpool(change_token, engine, incident_id)
        if fresh != token:
            token = fresh
            last_sent = loop.time()
            yield f"event: change\ndata: {token}\n\n"
        elif loop.time() - last_sent > HEARTBEAT_SECONDS:
            last_sent = loop.time()
            yield ": still here\n\n"


@router.get("/events")
def events(
    request: Request,
    incident: int | None = None,
    engine: Engine = Depends(get_engine_dep),
) -> StreamingResponse:
    """`event: change` with a new token each time incidents change (or one incident, if given)."""
    # A short session of its own: the request's session would hold a pooled connection for
    # the whole life of the stream.
    with session_scope(engine) as session:
        if load_session(session, request) is None:
            raise LoginRequired()
    return StreamingResponse(
        _stream(request, engine, incident),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
