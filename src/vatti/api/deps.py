"""What route handlers get injected: the API's collaborators, as one frozen state object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from vatti.api.config import ApiConfig
from vatti.api.ports import LogsReader, OutputsReader
from vatti.engine.service import Engine
from vatti.pipelines.base import PipelineRegistry
from vatti.store.base import JobStore


@dataclass(frozen=True)
class ApiState:
    engine: Engine
    registry: PipelineRegistry
    outputs: OutputsReader
    logs: LogsReader
    config: ApiConfig

    @property
    def store(self) -> JobStore:
        return self.engine.ctx.store


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.vatti
    return state


State = Annotated[ApiState, Depends(get_state)]
