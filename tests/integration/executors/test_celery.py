"""The Celery executor on real workers: the executor contract, at-most-once runs, cancellation.

The contract suite runs unchanged against one ``vatti worker`` on the machine's Redis, started
once per session; the state store's database is flushed before each test. The runs-once tests
(a duplicate publish to two workers, a lost worker or pool process) run on Redis and RabbitMQ.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from vatti.executors.base import Exited, Pending, Running
from vatti.executors.celery import CANCELLED_EXIT, CeleryExecutor, CeleryHandle
from vatti.executors.celery_records import RunRecords
from vatti.testing.celery import (
    Broker,
    CeleryWorld,
    WorkerProcess,
    rabbitmq_broker,
    redis_broker,
    running_workers,
)
from vatti.testing.executors import (
    ExecutorContract,
    ExecutorRig,
    closing_all,
    data_dir_for_jobs,
    final,
    new_job_id,
    scripted,
    wait_for_log,
    wait_until,
    whole_log,
)

pytestmark = pytest.mark.integration

MARGIN_S = 1.0


def executor(world: CeleryWorld, **overrides: str) -> CeleryExecutor:
    return CeleryExecutor(
        world.settings(**overrides), wall_time_margin_s=MARGIN_S, timeout_grace_s=2.0
    )


@pytest.fixture(scope="session")
def redis_pool() -> Iterator[tuple[CeleryWorld, list[WorkerProcess]]]:
    """One worker (three jobs at once) on Redis for the whole session."""
    with data_dir_for_jobs() as data_dir:
        world = CeleryWorld(redis_broker(), data_dir)
        with running_workers(world, "contract", concurrency=3) as workers:
            yield world, workers
        world.delete_queue()


@pytest.fixture(scope="session")
def redis_world(redis_pool: tuple[CeleryWorld, list[WorkerProcess]]) -> CeleryWorld:
    return redis_pool[0]


class TestCeleryExecutor(ExecutorContract):
    @pytest.fixture
    def rig(
        self, redis_pool: tuple[CeleryWorld, list[WorkerProcess]], tmp_path: Path
    ) -> Iterator[ExecutorRig]:
        redis_world, workers = redis_pool
        redis_world.flush_state()
        objects = tmp_path / "objects"
        objects.mkdir()
        env = {
            "VATTI_DATA_DIR": str(tmp_path / "data"),
            "VATTI_OBJECT_STORE_URL": objects.as_uri(),
            "VATTI_PGS_OFFLINE": "1",
        }
        built = ExecutorRig(
            lambda: executor(redis_world),
            objects.as_uri(),
            env,
            tmp_path,
            MARGIN_S,
            data_dir=redis_world.data_dir,
            service_pids=tuple(w.process.pid for w in workers),
        )
        with closing_all(built) as rig:
            yield rig


# -- runs at most once, on both brokers ---------------------------------------------------------


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Broker:
    return redis_broker() if request.param == "redis" else rabbitmq_broker()


@pytest.fixture
def world(broker: Broker, tmp_path: Path) -> Iterator[CeleryWorld]:
    """A queue of the test's own, on a fresh state store."""
    built = CeleryWorld(broker, tmp_path / "worker", extra={"VATTI_CELERY_VISIBILITY_TIMEOUT": "2"})
    built.flush_state()
    yield built
    built.delete_queue()


def records(world: CeleryWorld) -> RunRecords:
    return RunRecords.from_url(world.broker.state_url, 3600)


def times_run(log: bytes) -> int:
    return len(re.findall(rb"^ran$", log, re.MULTILINE))


def test_the_same_job_published_twice_to_two_workers_runs_once(world: CeleryWorld) -> None:
    go = world.data_dir / "go"
    job_id, store = new_job_id(), records(world)
    with (
        running_workers(world, "a", "b") as workers,
        closing_all(ExecutorRig(lambda: executor(world), "", {}, world.data_dir, MARGIN_S)) as rig,
    ):
        ex = rig.executor()
        launch = scripted(job_id, {"print": "ran", "wait_for": str(go)})
        handle = ex.submit(launch)
        wait_for_log(ex, handle, r"ran\n")
        assert ex.submit(launch) == handle  # published again: the other worker gets it
        wait_until("the second delivery's discard", lambda: len(store.discards(job_id, 1)) == 1)
        assert isinstance(ex.poll(handle), Running)
        go.touch()
        assert final(ex, handle) == Exited(0)
        ex.submit(launch)  # a delivery after the job ended
        wait_until("the late delivery's discard", lambda: len(store.discards(job_id, 1)) == 2)
        assert ex.poll(handle) == Exited(0)
        assert times_run(whole_log(ex, handle)) == 1
        for worker in workers:  # the broker's password (RabbitMQ's guest) is never logged
            assert ":guest@" not in worker.output()
    store.close()


@pytest.mark.parametrize("lost", ["pool process", "whole worker"])
def test_a_job_whose_worker_is_lost_runs_once_and_still_ends(world: CeleryWorld, lost: str) -> None:
    """acks_late + reject_on_worker_lost deliver the task again (at once when a pool process
    dies; when the whole worker does, as soon as RabbitMQ sees its connection close, or after
    Redis's visibility timeout): the delivery is discarded, the job goes on and its end is
    recorded."""
    go = world.data_dir / "go"
    job_id, store = new_job_id(), records(world)
    first = WorkerProcess(world, "first").wait_ready()
    try:
        with closing_all(
            ExecutorRig(lambda: executor(world), "", {}, world.data_dir, MARGIN_S)
        ) as rig:
            ex = rig.executor()
            handle = ex.submit(scripted(job_id, {"print": "ran", "wait_for": str(go)}))
            wait_for_log(ex, handle, r"ran\n")
            with running_workers(world, "second"):
                first.kill(pool_only=lost == "pool process")
                wait_until("the redelivery's discard", lambda: store.discards(job_id, 1) != [])
                assert isinstance(ex.poll(handle), Running)
                go.touch()
                assert final(ex, handle) == Exited(0)
                assert times_run(whole_log(ex, handle)) == 1
    finally:
        first.stop()
        store.close()


# -- cancellation ---------------------------------------------------------------------------------


def test_a_queued_task_is_revoked_on_the_worker_that_would_take_it(world: CeleryWorld) -> None:
    """The worker is busy (one slot): the second job waits on the broker. Cancelled there, its
    task is revoked: when the worker gets to it, Celery drops it before vatti's task runs (the
    claim would have noted a discard), and the job never runs."""
    go = world.data_dir / "go"
    busy, queued, store = new_job_id(), new_job_id(), records(world)
    with (
        running_workers(world, "busy") as (worker,),
        closing_all(ExecutorRig(lambda: executor(world), "", {}, world.data_dir, MARGIN_S)) as rig,
    ):
        ex = rig.executor()
        first = ex.submit(scripted(busy, {"print": "ran", "wait_for": str(go)}))
        wait_for_log(ex, first, r"ran\n")
        second = ex.submit(scripted(queued, {"print": "ran"}))
        assert isinstance(ex.poll(second), Pending)
        ex.terminate(second, 5.0)
        assert ex.poll(second) == Exited(CANCELLED_EXIT, "cancelled before a worker started it")
        go.touch()
        assert final(ex, first) == Exited(0)
        task = CeleryHandle.loads(second).task_id
        wait_until(
            "the revoked task's discard",
            lambda: f"revoked task: vatti.run_job[{task}]" in worker.output(),
        )
        assert store.discards(queued, 1) == []
        assert ex.read_log(second) is None
    store.close()


def test_a_job_cancelled_while_queued_never_runs_even_on_a_later_worker(
    world: CeleryWorld, tmp_path: Path
) -> None:
    """No worker was up to hear the revoke: the claim the cancellation took drops the task."""
    later = CeleryWorld(world.broker, tmp_path / "later")
    later.flush_state()
    store = records(later)
    with closing_all(ExecutorRig(lambda: executor(later), "", {}, tmp_path, MARGIN_S)) as rig:
        ex = rig.executor()
        job_id = new_job_id()
        handle = ex.submit(scripted(job_id, {"print": "ran"}))
        assert isinstance(ex.poll(handle), Pending)  # no worker consumes that queue yet
        ex.terminate(handle, 5.0)
        status = ex.poll(handle)
        assert isinstance(status, Exited)
        assert status.code != 0
        assert status.reason == "cancelled before a worker started it"
        with running_workers(later, "late"):
            wait_until("the delivery's discard", lambda: store.discards(job_id, 1) != [])
        assert ex.read_log(handle) is None  # it never ran
    later.delete_queue()
    store.close()


def test_jobs_go_to_their_pipelines_queue(redis_world: CeleryWorld) -> None:
    ex = executor(redis_world, VATTI_CELERY_QUEUES="pgs=vatti-pgs-test")
    try:
        assert ex.queue_of("pgs") == "vatti-pgs-test"
        assert ex.queue_of("command") == redis_world.queue
        handle = ex.submit(scripted(new_job_id(), {}, pipeline="command"))
        assert CeleryHandle.loads(handle).queue == redis_world.queue
        assert final(ex, handle) == Exited(0)
    finally:
        ex.close()


def test_an_exit_is_announced_when_it_happens(redis_world: CeleryWorld) -> None:
    redis_world.flush_state()
    ex = executor(redis_world)
    try:
        ended: list[str] = []
        ex.on_exit(ended.append)
        job_id = new_job_id()
        handle = ex.submit(scripted(job_id, {"exit": 2}))
        wait_until("the exit announcement", lambda: job_id in ended)
        assert ex.poll(handle) == Exited(2)
    finally:
        ex.close()


def test_a_worker_deletes_at_start_what_lost_jobs_left_behind(tmp_path: Path) -> None:
    """A worker lost mid-job (its host rebooted) leaves the job's scratch and run dir: the next
    worker on that data dir deletes them, unless the job's wrapper still beats."""
    world = CeleryWorld(redis_broker(), tmp_path / "host")
    lost, alive, store = new_job_id(), new_job_id(), records(world)
    for job_id in (lost, alive):
        for root in ("scratch", "runs"):
            (world.data_dir / root / job_id).mkdir(parents=True)
            (world.data_dir / root / job_id / "part.txt").write_text("clear text")
    assert store.claim(alive, 1, "elsewhere:1")  # a wrapper that outlived its worker
    try:
        with running_workers(world, "sweeper") as (worker,):
            assert f"worker.swept leftovers of 1 jobs: {lost}" in worker.output()
        for root in ("scratch", "runs"):
            assert not (world.data_dir / root / lost).exists()
            assert (world.data_dir / root / alive / "part.txt").is_file()
    finally:
        store.delete_job(alive)
        store.close()
        world.delete_queue()
