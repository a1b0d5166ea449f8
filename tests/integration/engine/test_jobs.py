"""Jobs through the engine with real processes, the real runtime and a real SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from vatti.domain.access import OPERATOR_CALLER
from vatti.domain.fingerprint import fingerprint
from vatti.domain.jobs import Job
from vatti.domain.layout import result_key, results_area
from vatti.domain.requests import JobRequest
from vatti.domain.states import JobState
from vatti.engine.oneshot import follow_new_job
from vatti.engine.service import Engine
from vatti.store.base import NewJob
from vatti.testing.jobs import service_for

pytestmark = pytest.mark.integration

WAIT_S = 60


def new_job(argv: list[str], outputs: list[str] | None = None, **request: Any) -> NewJob:
    """A raw-argv job (the rig's runtime allows them: these tests run scripts of their own)."""
    return job_of({"argv": argv, "outputs": outputs or []}, **request)


def job_of(params: dict[str, Any], **request: Any) -> NewJob:
    req = JobRequest.model_validate({"pipeline": "command", "params": params, **request})
    return NewJob(
        pipeline=req.pipeline,
        spec=req.model_dump(mode="json", exclude={"webhook_url", "client_id"}),
        fingerprint=fingerprint(req),
        webhook_url=str(req.webhook_url) if req.webhook_url else None,
    )


async def follow(engine: Engine, new: NewJob) -> Job:
    return await follow_new_job(
        engine, lambda: service_for(engine).submit_new(new).job, lambda _job: None
    )


class Watcher:
    """Waits for a job to reach a state, as announced by the engine's state-change callbacks.

    A terminal state is announced once its cleanup effects are done (the store shows it
    earlier), so a test that waits for one may check the cleanup at once.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.changed = asyncio.Event()
        self.announced: list[Job] = []
        self.loop = asyncio.get_running_loop()
        engine.ctx.listeners.append(self._announce)

    def _announce(self, job: Job) -> None:  # called from the engine's worker threads
        self.loop.call_soon_threadsafe(self._seen, job)

    def _seen(self, job: Job) -> None:
        self.announced.append(job)
        self.changed.set()

    async def until(self, job_id: str, done: Callable[[Job], bool]) -> Job:
        async with asyncio.timeout(WAIT_S):
            while True:
                self.changed.clear()
                for job in self.announced:
                    if job.id == job_id and done(job):
                        return job
                await self.changed.wait()


@pytest.fixture
async def running(rig: Any) -> AsyncIterator[tuple[Engine, Watcher]]:
    engine = rig.engine()
    watcher = Watcher(engine)
    task = asyncio.create_task(engine.run())
    try:
        yield engine, watcher
    finally:
        engine.stop()
        await task


def pid_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_command_job_succeeds_with_its_output(rig: Any) -> None:
    new = job_of({"command": "hello", "args": {"name": "Ada"}})
    job = await follow(rig.engine(), new)
    assert job.state is JobState.SUCCEEDED, job.failure
    hello = (rig.objects / result_key(job.id, "hello.txt")).read_text()
    assert hello == f"hello, Ada (job {job.id})\n"
    assert not (rig.objects / "jobs" / job.id / "work").exists()
    assert not (rig.objects / "jobs" / job.id / "outcome.json").exists()
    assert list(rig.scratch.iterdir()) == []
    assert job.results_expire_at is not None
    # the engine saved the job's log (the runtime's own lines) to the job's area
    saved = (rig.objects / "jobs" / job.id / "logs" / "job.log").read_text()
    assert "runtime.start" in saved


async def test_failing_command_fails_with_step_and_exit_code(rig: Any) -> None:
    new = new_job(["sh", "-c", "echo partial > out.txt; exit 3"], ["out.txt"])
    job = await follow(rig.engine(), new)
    assert job.state is JobState.FAILED
    assert job.failure is not None
    assert (job.failure.code, job.failure.step, job.failure.exit_code) == (
        "pipeline_failed",
        "command",
        3,
    )
    assert not (rig.objects / results_area(job.id)).exists()
    assert not (rig.objects / "jobs" / job.id / "work").exists()


def forking_job(fifo: Path) -> NewJob:
    """A command that forks ``sleep 1000``, records its pid, then signals the test via ``fifo``."""
    script = f"sleep 1000 & echo $! > child.pid; echo up > {fifo}; wait"
    return new_job(["sh", "-c", script])


def job_fifo(shared: Path) -> Path:
    """A FIFO the job's command (whatever its uid) writes ``up`` to once it has started."""
    fifo = shared / "up"
    os.mkfifo(fifo)
    os.chmod(fifo, 0o666)
    return fifo


async def started_child(rig: Any, job_id: str, fifo: Path) -> int:
    assert await asyncio.to_thread(fifo.read_text) == "up\n"
    return int((rig.scratch / job_id / "work" / "child.pid").read_text())


async def test_cancel_kills_the_whole_process_group(
    rig: Any, running: tuple[Engine, Watcher], shared: Path
) -> None:
    engine, watcher = running
    fifo = job_fifo(shared)
    job = (await asyncio.to_thread(service_for(engine).submit_new, forking_job(fifo))).job
    child = await started_child(rig, job.id, fifo)
    running_job = await watcher.until(job.id, lambda j: j.state is JobState.RUNNING)
    wrapper = int(json.loads(running_job.executor_handle or "{}")["pid"])

    await asyncio.to_thread(service_for(engine).cancel, job.id, caller=OPERATOR_CALLER)
    done = await watcher.until(job.id, lambda j: j.terminal)

    assert done.state is JobState.CANCELLED
    assert pid_gone(child)
    assert pid_gone(wrapper)
    assert list(rig.scratch.iterdir()) == []
    states = [e.to_state for e in rig.store.events(job.id)]
    assert states[-2:] == [JobState.CANCELLING, JobState.CANCELLED]


async def test_wall_time_exceeded_fails_with_timeout(
    rig: Any, running: tuple[Engine, Watcher], shared: Path
) -> None:
    engine, watcher = running
    pid_file = shared / "child.pid"
    new = new_job(
        ["sh", "-c", f"sleep 1000 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; wait"],
        resources={"wall_time_s": 1},
    )
    job = (await asyncio.to_thread(service_for(engine).submit_new, new)).job
    done = await watcher.until(job.id, lambda j: j.terminal)
    assert done.state is JobState.FAILED
    assert done.failure is not None
    assert done.failure.code == "timeout"
    # on a loaded machine a runtime started from scratch may not reach its command in 1 s
    if pid_file.exists():
        assert pid_gone(int(pid_file.read_text()))


async def test_restart_finds_the_vanished_job_and_cleans_up(rig: Any, shared: Path) -> None:
    fifo = job_fifo(shared)
    first = rig.engine()
    watcher = Watcher(first)
    task = asyncio.create_task(first.run())
    job = (await asyncio.to_thread(service_for(first).submit_new, forking_job(fifo))).job
    child = await started_child(rig, job.id, fifo)
    running_job = await watcher.until(job.id, lambda j: j.state is JobState.RUNNING)
    # the server dies: its loops stop without any cleanup, and the job's wrapper is killed
    first.stop()
    await task
    wrapper = int(json.loads(running_job.executor_handle or "{}")["pid"])
    os.kill(wrapper, signal.SIGKILL)
    rig.reap(first, wrapper)
    assert (rig.objects / "jobs" / job.id / "work").exists()

    second = rig.engine()
    watcher = Watcher(second)
    task = asyncio.create_task(second.run())
    try:
        done = await watcher.until(job.id, lambda j: j.terminal)
    finally:
        second.stop()
        await task
    assert done.state is JobState.FAILED
    assert done.failure is not None
    assert done.failure.code == "vanished"
    assert str(wrapper) in done.failure.message
    assert not (rig.objects / "jobs" / job.id / "work").exists()
    assert list(rig.scratch.iterdir()) == []
    assert pid_gone(child)  # the orphaned grandchild went with the terminate effect
