"""Routes for response metrics and signal-versus-incident volume."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from quell import metrics
from quell.api.deps import get_session, viewer
from quell.auth.service import Principal

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
def response_metrics(
    since: datetime | None = None,
    until: datetime | None = None,
    by: str = "severity",
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> dict[str, Any]:
    return metrics.response_metrics(session, since=since, until=until, by=by)


@router.get("/metrics/noise")
def noise(
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str = "day",
    session: Session = Depends(get_session),
    _: Principal = Depends(viewer),
) -> dict[str, Any]:
    return metrics.noise_reduction(session, since=since, until=until, bucket=bucket)
