"""What route handlers get injected: the job service and the API's settings, as one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from vatti.api.auth import StoredTokens
from vatti.api.config import ApiConfig
from vatti.api.throttle import SubmitThrottle
from vatti.service.jobs import JobService


@dataclass(frozen=True)
class ApiState:
    service: JobService
    config: ApiConfig
    #: whether the engine this process runs is alive (None: an API-only process, no engine)
    engine_alive: Callable[[], bool] | None = None
    #: the tokens made with ``vatti token create`` (None: only the configured ones)
    tokens: StoredTokens | None = None
    #: the per-token rate limit on submissions (None: none)
    throttle: SubmitThrottle | None = None


async def get_state(request: Request) -> ApiState:
    # async: FastAPI would run a plain function in its thread pool, one more hop per request
    state: ApiState = request.app.state.vatti
    return state


State = Annotated[ApiState, Depends(get_state)]
