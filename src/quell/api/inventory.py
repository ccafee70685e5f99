"""Routes for the inventory: AI systems, teams and the risk register."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from quell.api.deps import admin, get_session, same_as_url, viewer
from quell.auth.service import Principal
from quell.inventory import service
from quell.inventory.schemas import RiskIn, SystemIn, TeamIn

router = APIRouter(tags=["inventory"])


@router.get("/systems")
def list_systems(
    session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [service.system_to_dict(s) for s in service.list_systems(session)]


@router.get("/systems/{name}")
def get_system(
    name: str, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return service.system_to_dict(service.get_system(session, name))


@router.post("/systems", status_code=201)
def create_system(
    spec: SystemIn, session: Session = Depends(get_session), _: Principal = Depends(admin)
) -> dict[str, Any]:
    service.upsert_system(session, spec)
    return service.system_to_dict(service.get_system(session, spec.name))


@router.put("/systems/{name}")
def put_system(
    name: str,
    spec: SystemIn,
    session: Session = Depends(get_session),
    _: Principal = Depends(admin),
) -> dict[str, Any]:
    same_as_url(spec.name, name)
    outcome = service.upsert_system(session, spec)
    return {**service.system_to_dict(service.get_system(session, name)), "outcome": outcome}


@router.get("/teams")
def list_teams(
    session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> list[dict[str, Any]]:
    return [service.team_to_dict(t) for t in service.list_teams(session)]


@router.get("/teams/{name}")
def get_team(
    name: str, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return service.team_to_dict(service.get_team(session, name))


@router.put("/teams/{name}")
def put_team(
    name: str, spec: TeamIn, session: Session = Depends(get_session), _: Principal = Depends(admin)
) -> dict[str, Any]:
    same_as_url(spec.name, name)
    outcome = service.upsert_team(session, spec)
    return {**service.team_to_dict(service.get_team(session, name)), "outcome": outcome}


@router.get("/risks")
def list_risks(
    system: str | None = None,
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> list[dict[str, Any]]:
    return [service.risk_to_dict(session, r) for r in service.list_risks(session, system=system)]


@router.get("/risks/{key}")
def get_risk(
    key: str, session: Session = Depends(get_session), _: Principal = Depends(viewer)
) -> dict[str, Any]:
    return service.risk_to_dict(session, service.get_risk(session, key))


@router.put("/risks/{key}")
def put_risk(
    key: str, spec: RiskIn, session: Session = Depends(get_session), _: Principal = Depends(admin)
) -> dict[str, Any]:
    same_as_url(spec.key, key, field="key")
    outcome = service.upsert_risk(session, spec)
    return {**service.risk_to_dict(session, service.get_risk(session, key)), "outcome": outcome}
