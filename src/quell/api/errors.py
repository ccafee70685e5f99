"""Every error leaves the API as JSON that says which field or rule was at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from quell.errors import QuellError
from quell.validation import describe, field_path


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QuellError)
    async def _quell_error(_request: Request, exc: QuellError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        first: dict[str, Any] = dict(errors[0]) if errors else {"msg": "invalid request"}
        if first.get("type") == "json_invalid":
            reason = first.get("ctx", {}).get("error", first.get("msg"))
            return JSONResponse(
                {
                    "error": "malformed_json",
                    "message": f"the body is not valid JSON: {reason}",
                },
                status_code=400,
            )
        loc = tuple(first.get("loc", ()))
        # Drop FastAPI's leading 'body'/'query' so the field reads as the user wrote it.
        where = loc[1:] if loc and loc[0] in ("body", "query", "path") else loc
        first["loc"] = where
        body = {
            "error": "invalid_input",
            "message": describe(first),
            "field": field_path(where) or None,
            "errors": [
                {"field": field_path(tuple(e.get("loc", ()))[1:]), "message": str(e.get("msg"))}
                for e in errors
            ],
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": "http_error", "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
