"""Fixtures for engine unit tests: the in-memory store, scripted executor, recording areas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from vatti.domain.fingerprint import fingerprint
from vatti.domain.jobs import Job
from vatti.domain.outcome import Outcome
from vatti.domain.requests import JobRequest
from vatti.engine.context import EngineContext
from vatti.engine.ports import ExecStatus, Exited, Limits, Running
from vatti.store.base import NewJob
from vatti.store.memory import MemoryJobStore
from vatti.testing.config import engine_config

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Submitted:
    job_id: str
    argv: list[str]
    env: dict[str, str]
    limits: Limits


@dataclass
class ScriptedExecutor:
    """Jobs run until the test says how they ended."""

    name: str = "scripted"
    submitted: list[Submitted] = field(default_factory=list)
    status: dict[str, ExecStatus] = field(default_factory=dict)
    terminated: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    fail_submit: Exception | None = None
    runs: set[str] = field(default_factory=set)

    def submit(
        self, job_id: str, argv: Sequence[str], env: Mapping[str, str], limits: Limits
    ) -> str:
        if self.fail_submit is not None:
            raise self.fail_submit
        self.submitted.append(Submitted(job_id, list(argv), dict(env), limits))
        self.status[f"h-{job_id}"] = Running()
        return f"h-{job_id}"

    def poll(self, handle: str) -> ExecStatus:
        return self.status[handle]

    def terminate(self, handle: str, grace_s: float) -> None:
        self.terminated.append(handle)
        self.status[handle] = Exited(-15)

    def cleanup(self, handle: str) -> None:
        self.cleaned.append(handle)

    def finish(self, job_id: str, status: ExecStatus) -> None:
        self.status[f"h-{job_id}"] = status

    # run records (logs), as the local executor keeps them
    def run_ids(self) -> Iterable[str]:
        return sorted(self.runs)

    def delete_run(self, job_id: str) -> None:
        self.runs.discard(job_id)


@dataclass
class RecordingAreas:
    specs: dict[str, Mapping[str, object]] = field(default_factory=dict)
    work_deleted: list[str] = field(default_factory=list)
    results_deleted: list[str] = field(default_factory=list)

    def provision(self, job_id: str, spec: Mapping[str, object]) -> None:
        self.specs[job_id] = spec

    def delete_work(self, job_id: str) -> None:
        self.work_deleted.append(job_id)
        self.specs.pop(job_id, None)

    def delete_results(self, job_id: str) -> None:
        self.results_deleted.append(job_id)

    def work_job_ids(self) -> Iterable[str]:
        return list(self.specs)


@dataclass
class DictOutcomes:
    records: dict[str, Outcome] = field(default_factory=dict)
    forgotten: list[str] = field(default_factory=list)

    def read(self, job_id: str) -> Outcome | None:
        return self.records.get(job_id)

    def forget(self, job_id: str) -> None:
        self.forgotten.append(job_id)
        self.records.pop(job_id, None)


@dataclass
class Harness:
    ctx: EngineContext
    store: MemoryJobStore
    executor: ScriptedExecutor
    areas: RecordingAreas
    outcomes: DictOutcomes
    clock: Clock

    def submit(self, argv: list[str] | None = None, **request: object) -> Job:
        body: dict[str, object] = {
            "pipeline": "command",
            "params": {"argv": argv or ["true"], "outputs": []},
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
