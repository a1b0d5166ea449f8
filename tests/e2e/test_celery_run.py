"""``vatti run`` with ``VATTI_EXECUTOR=celery``: the engine hands the job to a ``vatti worker``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.e2e.conftest import EXAMPLES, clean_env, vatti

from vatti.domain.layout import results_prefix
from vatti.testing.celery import CeleryWorld, redis_broker, running_workers

pytestmark = pytest.mark.e2e


def test_a_job_runs_on_a_worker_and_its_results_come_back(tmp_path: Path) -> None:
    world = CeleryWorld(redis_broker(), tmp_path / "worker-host")
    world.flush_state()
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(EXAMPLES / "command-hello.json", work)
    env = clean_env(
        **{**world.env(), "VATTI_DATA_DIR": "vatti-data"},
        VATTI_EXECUTOR="celery",
        VATTI_POLL_INTERVAL="0.1",
    )
    with running_workers(world, "e2e") as (worker,):
        result = vatti("run", "command-hello.json", cwd=work, env=env)
    assert result.returncode == 0, result.stderr
    (job_dir,) = (work / "vatti-data" / "objects" / "jobs").iterdir()
    outputs = work / "vatti-data" / "objects" / results_prefix(job_dir.name)
    assert (outputs / "hello.txt").read_text() == f"hello, world (job {job_dir.name})\n"
    assert f"task.claimed job_id={job_dir.name}" in worker.output()
    assert (job_dir / "logs" / "job.log").is_file()  # the log came back from the worker
    assert world.secrets_key not in result.stdout + result.stderr + worker.output()
