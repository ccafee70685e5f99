"""Routes for access administration: API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from quell.api.deps import admin, get_session, principal
from quell.auth.service import Principal, create_token

router = APIRouter(tags=["access"])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: str


@router.post("/tokens", status_code=201)
def new_token(
    body: TokenIn, session: Session = Depends(get_session), _: Principal = Depends(admin)
) -> dict[str, Any]:
    plain, row = create_token(session, name=body.name, role=body.role)
    return {"id": row.id, "name": row.name, "role": row.role, "token": plain}


@router.get("/whoami")
def whoami(who: Principal = Depends(principal)) -> dict[str, str]:
    return {"name": who.name, "role": who.role}
