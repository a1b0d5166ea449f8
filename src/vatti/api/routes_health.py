"""Probes: ``/healthz`` (the process answers) and ``/readyz`` (database and engine loops)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vatti.api.deps import State
from vatti.api.models import Health
from vatti.domain.states import JobState

READY_TIMEOUT_S = 5.0

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(state: State) -> JSONResponse:
    try:
        await asyncio.wait_for(
            asyncio.to_thread(state.service.store.count_in_states, [JobState.QUEUED]),
            READY_TIMEOUT_S,
        )
        database = True
    except Exception:  # any failure means "not ready"; the probe reports, it does not raise
        database = False
    checks = {"database": database}
    if state.engine_alive is not None:
        checks["engine"] = state.engine_alive()
    ready = all(checks.values())
    body = Health(status="ready" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
