"""The console's pages (GET): board, incident, inventory, risks, graph, metrics, login."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from quell.api.deps import get_session
from quell.errors import InvalidInput, NotFound
from quell.incidents import lifecycle, service
from quell.incidents.models import Incident
from quell.incidents.timeline import events
from quell.incidents.views import event_to_dict, incident_to_dict, role_to_dict
from quell.inventory import service as inventory
from quell.web import features, svg
from quell.web.auth import WebSession
from quell.web.common import WebRoute, fragment, optional_web, render, signed_in

router = APIRouter(route_class=WebRoute, include_in_schema=False)

AUDIENCES = ("internal", "executive", "customer", "regulator")


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/board", status_code=307)


# ---------------------------------------------------------------- board


def board_filters(
    status: str = "", severity: str = "", system: str = "", archetype: str = ""
) -> dict[str, str]:
    """The board's GET filters; empty means 'any' (for status: any open one)."""
    if status and status != "all" and status not in lifecycle.STATUSES:
        raise InvalidInput(f"unknown status {status!r}", field="status")
    if severity:
        lifecycle.check_severity(severity)
    if archetype:
        lifecycle.check_archetype(archetype)
    return {"status": status, "severity": severity, "system": system, "archetype": archetype}


def board_incidents(session: Session, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Incidents for the board, worst severity first, then the oldest first within it."""
    status = filters["status"]
    found: list[Incident] = service.list_incidents(
        session,
        status=[status] if status and status != "all" else [],
        open_only=not status,
        severity=[filters["severity"]] if filters["severity"] else [],
        archetype=[filters["archetype"]] if filters["archetype"] else [],
        system=filters["system"] or None,
        limit=500,
    )
    found.sort(key=lambda i: (lifecycle.severity_rank(i.severity), i.detected_at))
    rows = []
    for incident in found:
        row = incident_to_dict(incident)
        row["detected"] = incident.detected_at
        row["clocks"] = features.clocks_summary(session, incident)
        rows.append(row)
    return rows


@router.get("/board")
def board(
    request: Request,
    filters: dict[str, str] = Depends(board_filters),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    return render(
        request,
        "board.html",
        web,
        nav="board",
        rows=board_incidents(session, filters),
        filters=filters,
        statuses=lifecycle.STATUSES,
        severities=lifecycle.SEVERITIES,
        archetypes=lifecycle.ARCHETYPES,
        systems=[s.name for s in inventory.list_systems(session)],
    )


@router.get("/board/rows")
def board_rows(
    request: Request,
    filters: dict[str, str] = Depends(board_filters),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """The board's table body alone, fetched by the page when the live stream says so."""
    return fragment(request, "_board_rows.html", rows=board_incidents(session, filters))


# ---------------------------------------------------------------- incident


@router.get("/incidents/{incident_id}")
def incident_page(
    request: Request,
    incident_id: int,
    audience: str = Query(default="internal"),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    incident = service.get_incident(session, incident_id)
    if audience not in AUDIENCES:
        audience = "internal"
    data = incident_to_dict(incident)
    order = {s: n for n, s in enumerate(lifecycle.STATUSES)}
    allowed = sorted(lifecycle.TRANSITIONS[incident.status], key=order.__getitem__)
    timeline = [event_to_dict(e) for e in reversed(events(session, incident_id))]
    return render(
        request,
        "incident.html",
        web,
        nav="board",
        inc=data,
        incident=incident,
        allowed=allowed,
        roles=lifecycle.ROLES,
        role_history=[role_to_dict(r) for r in incident.roles],
        timeline=timeline,
        frameworks=features.frameworks(data),
        triage=features.triage_pack(session, incident),
        signals=features.signals(session, incident),
        clocks=features.clocks(session, incident),
        actions=features.actions(session, incident, web),
        gates=features.gates(session, incident),
        checklist=features.checklist(session, incident),
        escalation=features.escalation(session, incident),
        wwk=features.what_we_know(session, incident, audience),
        audiences=AUDIENCES,
        audience=audience,
        postmortem=features.postmortem(session, incident),
        has_agent=any(s.kind == "agent" for s in incident.systems),
    )


# ---------------------------------------------------------------- inventory


def _open_by_system(session: Session) -> dict[str, list[Incident]]:
    out: dict[str, list[Incident]] = {}
    for incident in service.list_incidents(session, open_only=True, limit=1000):
        for system in incident.systems:
            out.setdefault(system.name, []).append(incident)
    return out


@router.get("/systems")
def systems_page(
    request: Request,
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    return render(
        request,
        "systems.html",
        web,
        nav="systems",
        systems=inventory.list_systems(session),
        open_by_system=_open_by_system(session),
    )


@router.get("/systems/{name}")
def system_page(
    request: Request,
    name: str,
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    system = inventory.get_system(session, name)
    return render(
        request,
        "system.html",
        web,
        nav="systems",
        system=inventory.system_to_dict(system),
        owner=system.owner_team,
        incidents=service.list_incidents(session, system=name, limit=50),
        risks=[
            inventory.risk_to_dict(session, r) for r in inventory.list_risks(session, system=name)
        ],
        guard=features.guard_status(session, system.name) if system.kind == "agent" else None,
    )


@router.get("/risks")
def risks_page(
    request: Request,
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    risks = [inventory.risk_to_dict(session, r) for r in inventory.list_risks(session)]
    risks.sort(key=lambda r: (-r["score"], r["key"]))
    return render(request, "risks.html", web, nav="risks", risks=risks)


@router.get("/graph")
def graph_page(
    request: Request,
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    systems = inventory.list_systems(session)
    hot = _open_by_system(session)
    nodes = [
        svg.GraphNode(s.name, s.kind, s.criticality, len(hot.get(s.name, []))) for s in systems
    ]
    upstream = {s.name: {u.name for u in s.upstream} for s in systems}
    return render(
        request,
        "graph.html",
        web,
        nav="graph",
        graph=svg.dependency_graph_svg(nodes, upstream),
        systems=systems,
        hot=hot,
    )


# ---------------------------------------------------------------- metrics


@router.get("/metrics")
def metrics_page(
    request: Request,
    days: int = Query(default=14, ge=1, le=365),
    by: str = Query(default="severity"),
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    if by not in ("severity", "archetype", "system"):
        raise InvalidInput("group by: severity, archetype or system", field="by")
    report = features.metrics(session, days, by)
    return render(request, "metrics.html", web, nav="metrics", days=days, report=report)


# ---------------------------------------------------------------- login


@router.get("/login")
def login_page(
    request: Request,
    next: str = "/board",
    web: WebSession | None = Depends(optional_web),
) -> Response:
    return render(request, "login.html", web, nav="login", next=safe_next(next))


def safe_next(target: str) -> str:
    """Only paths of this site: never redirect to another host after login."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/board"
    return target


@router.get("/incidents/{incident_id}/postmortem.{fmt}")
def postmortem_export(
    incident_id: int,
    fmt: str,
    session: Session = Depends(get_session),
    web: WebSession = Depends(signed_in),
) -> Response:
    """The postmortem exported as Markdown or HTML (the postmortem phase renders it)."""
    if fmt not in ("md", "html"):
        raise InvalidInput("export format: md or html", field="format")
    service.get_incident(session, incident_id)
    render_postmortem = features.postmortem_renderer()
    if render_postmortem is None:
        raise NotFound("postmortem export is not part of this build yet")
    text = render_postmortem(session, incident_id, fmt)
    media = "text/markdown; charset=utf-8" if fmt == "md" else "text/html; charset=utf-8"
    headers = {"Content-Disposition": f'inline; filename="incident-{incident_id}-postmortem.{fmt}"'}
    return Response(text, media_type=media, headers=headers)
