"""A job's memory lives and dies with the job's child process, never in the worker.

The phenovar deployment's always-on worker held ~8 GB between jobs. Here a ``command`` job runs
python that allocates 2 GiB; the worker's resident memory (its main and pool processes, and the
pool process's job launcher) is measured before (once a first, empty job has warmed the pool
process up), during and after it, and the job's processes during it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vatti.executors.base import Exited, Launch
from vatti.executors.celery import CeleryExecutor
from vatti.staging.areas import ObjectWorkAreas
from vatti.staging.objects import ObjectStore
from vatti.testing.celery import CeleryWorld, redis_broker, running_workers
from vatti.testing.executors import (
    final,
    new_job_id,
    python_for_jobs,
    scripted,
    shared_with_jobs,
    wait_until,
)

pytestmark = pytest.mark.integration

ALLOCATE_MIB = 2048
#: what the worker may gain over a job's life (allocator noise, a log line's buffers)
SLACK_MIB = 40

ALLOCATE = """
import pathlib, sys, time
block = bytearray({mib} << 20)
block[::4096] = b"x" * len(block[::4096])
pathlib.Path(sys.argv[1]).touch()
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
"""


def test_a_2_gib_job_leaves_no_memory_in_the_worker(tmp_path: Path) -> None:
    with shared_with_jobs() as exchange:  # the job, under its own uid as root, writes there
        measure(tmp_path, exchange)


def measure(tmp_path: Path, exchange: Path) -> None:
    world = CeleryWorld(redis_broker(), tmp_path / "w")
    world.flush_state()
    objects = tmp_path / "objects"
    objects.mkdir()
    allocated, go = exchange / "allocated", exchange / "go"
    job_id = new_job_id()
    argv = [python_for_jobs(), "-c", ALLOCATE.format(mib=ALLOCATE_MIB), str(allocated), str(go)]
    ObjectWorkAreas(ObjectStore.from_url(objects.as_uri())).provision(
        job_id,
        {"job_id": job_id, "pipeline": "command", "params": {"argv": argv, "outputs": []}},
    )
    env = {
        "VATTI_OBJECT_STORE_URL": objects.as_uri(),
        "VATTI_DATA_DIR": str(tmp_path / "data"),
        "VATTI_ALLOW_RAW_ARGV": "1",  # the job is the test's allocating script
    }
    with running_workers(world, "measured") as (worker,):
        ex = CeleryExecutor(world.settings(), wall_time_margin_s=1.0)
        try:
            assert final(ex, ex.submit(scripted(new_job_id(), {}))) == Exited(0)
            before = worker.rss_mb()
            handle = ex.submit(Launch(job_id=job_id, env=env, pipeline="command"))
            wait_until("the job to allocate", allocated.exists)
            during = worker.rss_mb()
            job_mib = sum(p.memory_info().rss for p in worker.job_processes()) / (1 << 20)
            go.touch()
            assert final(ex, handle) == Exited(0)
            after = worker.rss_mb()
        finally:
            ex.close()
    print(
        f"\nworker RSS: before {before:.0f} MiB, during {during:.0f} MiB "
        f"(the job's processes: {job_mib:.0f} MiB), after {after:.0f} MiB"
    )
    assert job_mib >= ALLOCATE_MIB
    assert during - before < SLACK_MIB
    assert after - before < SLACK_MIB
