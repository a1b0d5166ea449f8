"""Probes: ``/healthz`` (the process answers) and ``/readyz`` (the database answers and is
migrated to this code's head revision, and the engine loops run when this process runs them)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vatti.api.deps import State
from vatti.api.models import Health

READY_TIMEOUT_S = 5.0

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(state: State) -> JSONResponse:
    try:
        schema = await asyncio.wait_for(
            asyncio.to_thread(state.service.store.schema_at_head), READY_TIMEOUT_S
        )
        database = True
    except Exception:  # any failure means "not ready"; the probe reports, it does not raise
        database = schema = False
    checks = {"database": database, "schema": schema}
    if state.engine_alive is not None:
        checks["engine"] = state.engine_alive()
    ready = all(checks.values())
    body = Health(status="ready" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
