"""``vatti worker``: a Celery worker running the jobs of the Celery executor.

Each pool process (``prefork``: ``VATTI_CELERY_CONCURRENCY`` of them; ``solo``: the worker's own
process) takes one task at a time (prefetch 1) and runs it with :func:`.celery_task.run_task`:
claim the attempt, start the job's wrapper as a child that exits with the job, wait for it.
Tasks are acknowledged late and rejected when the worker is lost, so a lost worker's task is
delivered again; the claim makes that delivery (and any duplicate) a no-op. At start-up the
worker deletes what jobs lost with an earlier worker left in its data dir
(:func:`sweep_leftovers`).

The worker reads the ``worker`` component's settings: the Celery group it shares with the engine
(broker, state store, secrets key, queues), its own (concurrency, pool) and the common one (its
data dir holds the jobs' run dirs and scratch). A job's runtime settings come with its task,
from the engine.
"""

from __future__ import annotations

import logging
import shutil
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery
from celery.worker.control import control_command

from vatti.domain.urls import redact_url
from vatti.executors.celery_app import CLEANUP_COMMAND, JOB_ID, TASK_NAME, make_app
from vatti.executors.celery_records import RunRecords
from vatti.executors.celery_task import WorkerContext, run_task
from vatti.executors.errors import ExecutorError
from vatti.executors.local import RUNTIME_ENTRY
from vatti.isolation.hardening import private_data_dir

if TYPE_CHECKING:
    from vatti.config import CelerySettings, Settings

log = logging.getLogger("vatti.worker")


def worker_app(settings: CelerySettings, ctx: WorkerContext) -> Celery:
    """The worker's app with the task registered on it, and the clean-up control command."""
    app = make_app(settings)

    def run_job(task: Any, **kwargs: Any) -> str:
        return run_task(ctx, kwargs, node=str(task.request.hostname or ""))

    app.task(
        name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )(run_job)

    def vatti_cleanup(state: Any, job_id: str = "", **_: Any) -> dict[str, str]:
        """Delete a job's scratch on this worker (what its runtime could not delete)."""
        del state
        if not JOB_ID.match(job_id):
            return {"error": "not a job id"}
        shutil.rmtree(ctx.scratch_root / job_id, ignore_errors=True)
        return {"ok": f"cleaned {job_id}"}

    control_command(name=CLEANUP_COMMAND, args=[("job_id", str)], signature="<job_id>")(
        vatti_cleanup
    )
    return app


def worker_context(settings: Settings, *, entry: str = RUNTIME_ENTRY) -> WorkerContext:
    celery = settings.celery
    if celery is None:
        raise ExecutorError("the celery settings were not loaded")
    problems = celery.problems()
    if problems:
        raise ExecutorError("; ".join(problems))
    state_url = celery.state_url()
    assert state_url is not None
    return WorkerContext(
        records=RunRecords.from_url(state_url, celery.celery_record_ttl),
        state_url=state_url,
        secrets_keys=tuple(celery.secrets_keys()),
        data_dir=settings.data_dir,
        entry=entry,
        record_ttl_s=celery.celery_record_ttl,
    )


def sweep_leftovers(ctx: WorkerContext) -> list[str]:
    """Delete the scratch and run dirs of jobs no wrapper looks after any more; their ids.

    A worker (or its host) lost mid-job leaves them behind, and the engine's clean-up, a control
    command to the worker that ran the job, found nobody to run it. A job whose wrapper still
    beats (it outlived its worker) keeps them."""
    swept: set[str] = set()
    for root in (ctx.scratch_root, ctx.data_dir / "runs"):
        if not root.is_dir():
            continue
        for path in root.iterdir():
            job_id = path.name
            if path.is_dir() and JOB_ID.match(job_id) and not ctx.records.looked_after(job_id):
                shutil.rmtree(path, ignore_errors=True)
                swept.add(job_id)
    return sorted(swept)


def run_worker(
    settings: Settings,
    *,
    queues: Sequence[str] | None = None,
    concurrency: int | None = None,
    pool: str | None = None,
    events: bool | None = None,
    hostname: str | None = None,
    entry: str = RUNTIME_ENTRY,
) -> int:
    """Run the worker until it is stopped (SIGTERM: warm shutdown); its exit status."""
    celery, own = settings.celery, settings.celery_worker
    if celery is None or own is None:
        raise ExecutorError("the celery worker's settings were not loaded")
    ctx = worker_context(settings, entry=entry)
    private_data_dir(settings.data_dir, ctx.scratch_root)
    try:
        swept = sweep_leftovers(ctx)
    except redis.RedisError as exc:  # the worker starts anyway; the next start sweeps
        log.warning("worker.sweep_failed: the state store is unreachable: %s", exc)
    else:
        if swept:
            log.info("worker.swept leftovers of %d jobs: %s", len(swept), ",".join(swept))
    app = worker_app(celery, ctx)
    consumed = list(queues) if queues else celery.all_queues()
    broker = celery.celery_broker_url
    assert broker is not None
    log.info(
        "worker.starting broker=%s queues=%s pool=%s",
        redact_url(broker.get_secret_value()),
        ",".join(consumed),
        pool or own.celery_pool,
    )
    worker = app.Worker(
        hostname=hostname or f"vatti@{socket.gethostname()}",
        queues=consumed,
        concurrency=concurrency or own.celery_concurrency,
        pool_cls=pool or own.celery_pool,
        send_events=celery.celery_events if events is None else events,
        loglevel=settings.common.log_level,
        without_gossip=True,
        without_mingle=True,
        quiet=True,
    )
    worker.start()
    code: int = worker.exitcode or 0
    return code
