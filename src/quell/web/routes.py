"""Every console route in one router, mounted beside the API by quell.web.mount_console."""

from __future__ import annotations

from fastapi import APIRouter

from quell.web import forms, live, pages, response_forms

router = APIRouter(include_in_schema=False)
for module in (pages, forms, response_forms, live):
    router.include_router(module.router)
