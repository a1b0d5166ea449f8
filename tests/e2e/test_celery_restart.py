"""A server killed mid-job while the job runs on a Celery worker, then restarted, loses nothing.

The job's state lives in the Celery executor's state store, so the restarted server re-attaches
through the handle it stored and picks up the job's end, whether it came while the server was
down or after. A job whose worker is gone with it (the host lost), or whose records the state
store lost, fails with the reason and is cleaned up. ``VATTI_MAX_CONCURRENT_JOBS`` holds on
Celery as on every executor: the job queued behind starts only after the first ended, although
the worker has a free slot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.e2e.conftest import Launcher, Server, example, pid_alive, wait_for
from tests.e2e.test_restart import ONE_AT_A_TIME, QUEUED_AFTER_KILL_S, assert_settled, gated_job

from vatti.executors.celery_records import HEARTBEAT_TTL_S, RunRecords
from vatti.testing.celery import CeleryWorld, WorkerProcess, redis_broker, running_workers
from vatti.testing.executors import data_dir_for_jobs

pytestmark = pytest.mark.e2e

#: a lost worker's job is vanished once its heartbeat expires; then the poll and the clean-up
LOST_WORKER_S = HEARTBEAT_TTL_S + 30.0


@pytest.fixture(scope="module")
def world() -> Iterator[CeleryWorld]:
    # the worker host's data dir: where jobs under uids of their own reach their scratch
    with data_dir_for_jobs() as host:
        built = CeleryWorld(redis_broker(), host)
        yield built
        built.delete_queue()


@pytest.fixture(scope="module")
def worker(world: CeleryWorld) -> Iterator[WorkerProcess]:
    """One worker with two slots for the module: the limit, not the worker, holds jobs back."""
    with running_workers(world, "restart", concurrency=2) as (started,):
        yield started


def server_env(world: CeleryWorld) -> dict[str, str]:
    env = {k: v for k, v in world.env().items() if k != "VATTI_DATA_DIR"}  # the server's own
    return {**env, **ONE_AT_A_TIME, "VATTI_EXECUTOR": "celery"}


def run_gated_and_kill(
    launcher: Launcher, world: CeleryWorld, data: Path, shared: Path, *, queue_one: bool = True
) -> tuple[str, str | None, int, Path]:
    """Start a gated job on the worker (and queue one behind it), then SIGKILL the server."""
    server = launcher.start(data, server_env(world))
    body, pid_file, gate = gated_job(shared)
    running = server.submit(body)
    server.wait_state(running["id"], frozenset({"running"}))
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", 15, "the pid")
    queued = server.submit(example("command-hello.json")) if queue_one else None
    if queued is not None:
        assert server.job(queued["id"])["state"] == "queued"
    server.kill()
    pid = int(pid_file.read_text())
    assert pid_alive(pid), "the job runs on the worker, not in the server"
    return running["id"], None if queued is None else queued["id"], pid, gate


def when(job: dict[str, Any], what: str) -> datetime:
    return datetime.fromisoformat(str(job[what]))


def assert_ran_after(server: Server, first_id: str, then_id: str) -> None:
    """``then_id`` succeeded, and started only once ``first_id`` had finished (the limit)."""
    then = server.wait_state(then_id, timeout=QUEUED_AFTER_KILL_S)
    assert then["state"] == "succeeded", then
    assert server.http.get(f"/api/v1/jobs/{then_id}/outputs/hello.txt").text.startswith("hello")
    assert when(then, "started_at") >= when(server.job(first_id), "finished_at")


@pytest.mark.parametrize("ends", ["while the server is down", "after the restart"])
def test_a_celery_job_is_followed_through_a_server_restart(
    launcher: Launcher,
    world: CeleryWorld,
    worker: WorkerProcess,
    tmp_path: Path,
    shared: Path,
    ends: str,
) -> None:
    data = tmp_path / "data"
    running_id, queued_id, pid, gate = run_gated_and_kill(launcher, world, data, shared)
    assert queued_id is not None
    store = RunRecords.from_url(world.broker.state_url, 3600)
    try:
        if ends == "while the server is down":
            gate.touch()
            wait_for(lambda: store.read(running_id, 1).state == "exited", 30, "the job's exit")

        server = launcher.start(data, server_env(world))
        if ends == "after the restart":
            assert server.job(running_id)["state"] == "running"
            assert server.job(queued_id)["state"] == "queued"
            gate.touch()

        done = server.wait_state(running_id)
        assert done["state"] == "succeeded", done
        assert server.http.get(f"/api/v1/jobs/{running_id}/outputs/out.txt").text == "finished\n"
        assert_ran_after(server, running_id, queued_id)
        wait_for(lambda: not pid_alive(pid), 10, f"process {pid} to go")
        assert_settled(server, running_id, queued_id)
        assert f"task.claimed job_id={running_id}" in worker.output()
    finally:
        store.close()


@pytest.mark.parametrize("lost", ["the worker's host", "the worker's host and the job's records"])
def test_a_celery_job_lost_while_the_server_is_down_fails_with_the_reason(
    launcher: Launcher, tmp_path: Path, shared: Path, lost: str
) -> None:
    world = CeleryWorld(redis_broker(), shared / "lost-host")
    store = RunRecords.from_url(world.broker.state_url, 3600)
    doomed = WorkerProcess(world, "doomed").wait_ready()
    try:
        data = tmp_path / "data"
        job_id, _, pid, _ = run_gated_and_kill(launcher, world, data, shared, queue_one=False)
        jobs = doomed.job_processes()
        doomed.kill()  # the host goes: its worker and the job with it
        for proc in jobs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(jobs, timeout=10)
        assert not pid_alive(pid)
        if lost == "the worker's host and the job's records":
            store.delete_job(job_id)

        server = launcher.start(data, server_env(world))

        done = server.wait_state(job_id, timeout=LOST_WORKER_S)
        assert done["state"] == "failed", done
        assert done["failure"]["code"] == "vanished"
        why = "stopped reporting" if lost == "the worker's host" else "has no record of the job"
        assert why in done["failure"]["message"], done["failure"]
        assert_settled(server, job_id)
        # the clean-up took the attempt for itself: a delivery of it that comes later is dropped
        assert store.read(job_id, 1).claimant is not None
    finally:
        doomed.stop()
        store.close()
        world.delete_queue()
