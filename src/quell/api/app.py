"""The FastAPI application: API under /api/v1 and the console, on one port."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

import quell
from quell import phases
from quell.api import (
    admin,
    communication,
    compliance,
    escalation,
    guard,
    incidents,
    ingest,
    inventory,
    metrics,
    postmortem,
    remediation,
    triage,
)
from quell.api.errors import install_error_handlers
from quell.settings import Settings
from quell.store.db import get_engine
from quell.web import mount_console

API_PREFIX = "/api/v1"


def api_router() -> APIRouter:
    """Every phase's router, under /api/v1. A phase adds its router to this list."""
    router = APIRouter(prefix=API_PREFIX)
    # ingest first: routes are matched in order, and intake is the busiest path (no overlaps).
    for module in (ingest, inventory, incidents, admin, guard, escalation, compliance, remediation):
        router.include_router(module.router)
    for module in (triage, communication, postmortem, metrics):
        router.include_router(module.router)
    return router


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the scheduler's worker (escalation timers, retries, reminders) with the app,
    unless settings.scheduler is off; stop it on shutdown."""
    from quell.scheduler import Worker

    worker = Worker(app.state.engine).start() if app.state.settings.scheduler else None
    app.state.scheduler = worker
    try:
        yield
    finally:
        if worker is not None:
            worker.stop()


class QuellApp(FastAPI):
    """FastAPI, with intake's POST routes answered before the middleware and the router.

    Intake is the busiest path by far, and its handlers take only the request (they read,
    authenticate and validate themselves). With this FastAPI the nested routers are walked
    several times per request to match one (a quarter of a single-signal request's CPU on the
    event loop, measured with bench/ingest_cpu.py), and the middleware adds little for them.
    The routes stay registered on the router as well (OpenAPI, and any path not matched here).
    Errors are answered by the app's own exception handlers, as through the router; anything
    without one is a plain 500 and is re-raised for the server to log, as Starlette does.
    """

    intake_routes: dict[str, Callable[[Request], Awaitable[Response]]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not self.root_path:
            endpoint = self.intake_routes.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                await self._intake(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _intake(
        self,
        endpoint: Callable[[Request], Awaitable[Response]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = next(
                (
                    self.exception_handlers[cls]
                    for cls in type(exc).__mro__
                    if cls in self.exception_handlers and cls is not Exception
                ),
                None,
            )
            if handler is None:
                await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    # Every phase's hooks at start-up, not on the first incident: that import took a first
    # request 150-250 ms in the ingest benchmark.
    phases.load()
    app = QuellApp(
        title="quell",
        version=quell.__version__,
        description="Incident response for AI systems.",
        docs_url=None,  # served below from local assets: the docs work offline
        openapi_url="/openapi.json",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings.database_url)
    install_error_handlers(app)
    app.include_router(api_router())
    app.intake_routes = {API_PREFIX + path: fn for path, fn in ingest.INTAKE_POSTS.items()}
    mount_console(app)

    _mount_offline_docs(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _mount_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle package's files, with no CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="quell API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def tune_for_serving() -> None:
    """Garbage-collector settings for a long-running server, once the app is built.

    Intake allocates many short-lived objects; with the default thresholds, full collections
    of the long-lived start-up heap (60-165 ms each) made most of the p99 tail in the ingest
    benchmark. Parse the phases' bundled data first, then freeze what start-up built and
    collect the oldest generation less often.
    """
    import gc

    phases.warm()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)
