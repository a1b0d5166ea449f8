"""Flower pointed at the Celery executor's broker lists vatti's tasks by job id, and nothing else.

Flower runs from a side environment (:mod:`vatti.testing.side_envs`, built once per machine):
it is an operator's tool, not a dependency of vatti. Flower 2 needs task events from the
worker (``vatti worker -E``, or ``VATTI_CELERY_EVENTS``) and serves its API unauthenticated only
with ``FLOWER_UNAUTHENTICATED_API=true``.
"""

from __future__ import annotations

import json
import os
import secrets as random_secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vatti.executors.base import Exited
from vatti.executors.celery import CeleryExecutor, CeleryHandle
from vatti.testing.celery import CeleryWorld, redis_broker, running_workers
from vatti.testing.executors import final, new_job_id, scripted, wait_until
from vatti.testing.services import free_port, missing
from vatti.testing.side_envs import ensure_side_env

pytestmark = pytest.mark.integration

FLOWER_REQUIREMENTS = ("flower==2.2.0", "celery[redis]==5.7.0")


def flower_bin() -> Path:
    try:
        return ensure_side_env("flower", FLOWER_REQUIREMENTS, timeout_s=300) / "celery"
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        missing("Flower", f"its side environment could not be built ({exc})")


@pytest.fixture
def flower(tmp_path: Path) -> Iterator[tuple[CeleryWorld, str]]:
    """A world whose worker sends events, and the base URL of a Flower watching its broker."""
    world = CeleryWorld(redis_broker(), tmp_path / "w", extra={"VATTI_CELERY_EVENTS": "true"})
    world.flush_state()
    tool, port = flower_bin(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CELERY_BROKER_URL": world.broker.url,  # not on the command line
        "FLOWER_UNAUTHENTICATED_API": "true",
    }
    with (tmp_path / "flower.log").open("wb") as log:
        process = subprocess.Popen(
            [str(tool), "flower", "--address=127.0.0.1", f"--port={port}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with running_workers(world, "watched"):
            wait_until("Flower to list the worker", lambda: listed_worker(base))
            yield world, base
    finally:
        process.terminate()
        process.wait(timeout=30)
        world.delete_queue()


def listed_worker(base: str) -> bool:
    try:
        workers = httpx.get(f"{base}/api/workers", params={"refresh": "1"}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return False
    return any(name.startswith("watched@") for name in workers)


def flower_task(base: str, task_id: str) -> dict[str, Any] | None:
    tasks = httpx.get(f"{base}/api/tasks", timeout=5).json()
    task: dict[str, Any] | None = tasks.get(task_id)
    return task


def test_flower_lists_vatti_tasks_with_their_job_ids(flower: tuple[CeleryWorld, str]) -> None:
    world, base = flower
    ex = CeleryExecutor(world.settings(), wall_time_margin_s=1.0)
    try:
        secret, plain = random_secrets.token_hex(8), random_secrets.token_hex(8)
        job_id = new_job_id()
        launch = scripted(
            job_id, {"print": "hi"}, env={"VATTI_PLAIN": plain}, secrets={"VATTI_S": secret}
        )
        handle = ex.submit(launch)
        assert final(ex, handle) == Exited(0)
        task_id = CeleryHandle.loads(handle).task_id
        wait_until(
            "Flower to see the task succeed",
            lambda: (flower_task(base, task_id) or {}).get("state") == "SUCCESS",
        )
        task = flower_task(base, task_id)
        assert task is not None
        assert task["name"] == "vatti.run_job"
        assert task["kwargs"] == repr({"job_id": job_id, "attempt": 1})
        assert task["worker"].startswith("watched@")
        everything = json.dumps(httpx.get(f"{base}/api/tasks", timeout=5).json())
        assert secret not in everything
        assert plain not in everything  # the runtime's settings stay out of monitors too
    finally:
        ex.close()
