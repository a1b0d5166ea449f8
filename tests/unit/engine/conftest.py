"""Fixtures for engine unit tests: the in-memory store and the fakes of ``vatti.testing``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vatti.domain.fingerprint import fingerprint
from vatti.domain.jobs import Job
from vatti.domain.requests import JobRequest
from vatti.engine.context import EngineContext
from vatti.engine.reconcile import cancel_once, poll_live
from vatti.store.base import NewJob
from vatti.store.memory import MemoryJobStore
from vatti.testing.config import engine_config
from vatti.testing.fakes import DictOutcomes, RecordingAreas, ScriptedExecutor

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Harness:
    ctx: EngineContext
    store: MemoryJobStore
    executor: ScriptedExecutor
    areas: RecordingAreas
    outcomes: DictOutcomes
    clock: Clock

    def submit(self, name: str = "world", **request: object) -> Job:
        body: dict[str, object] = {
            "pipeline": "command",
            "params": {"command": "hello", "args": {"name": name}},
            **request,
        }
        req = JobRequest.model_validate(body)
        spec = req.model_dump(mode="json", exclude={"webhook_url", "client_id"})
        new = NewJob(
            pipeline=req.pipeline,
            spec=spec,
            fingerprint=fingerprint(req),
            client_id=req.client_id,
            webhook_url=str(req.webhook_url) if req.webhook_url else None,
        )
        job = self.store.submit(new, now=self.clock(), dedup_window_s=0, notify=self.ctx.notify).job
        self.clock.advance(1)
        return job


def make_harness(**config: object) -> Harness:
    store = MemoryJobStore()
    executor = ScriptedExecutor()
    areas = RecordingAreas()
    outcomes = DictOutcomes()
    clock = Clock()
    ctx = EngineContext(
        store=store,
        executor=executor,
        areas=areas,
        outcomes=outcomes,
        config=engine_config(holder="test", **config),
        clock=clock,
    )
    return Harness(ctx, store, executor, areas, outcomes, clock)


@pytest.fixture
def harness() -> Harness:
    return make_harness(webhook_url="http://global.example/hook")


@pytest.fixture
def harness_factory() -> object:
    return make_harness


def reconcile_once(ctx: EngineContext) -> None:
    """One pass of the engine's poll and cancel loops."""
    poll_live(ctx)
    cancel_once(ctx)
