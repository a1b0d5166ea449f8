"""The body of the Celery task, in a worker's pool process: claim the attempt, run its wrapper.

A delivery whose attempt is already claimed (by a worker, or by a cancellation before any
worker took it) is discarded and acknowledged: that covers a duplicate publish, a redelivery
after a visibility timeout or a lost worker, and a delivery that arrives after the job ended.
Otherwise the task has the job's wrapper (:mod:`.celery_wrapper`) forked, in a session of its
own, by its pool process's launcher (:mod:`.launcher`: started on the pool process's first job,
apart from the worker, it only imported the wrapper and the job runtime, so a job starts without
an interpreter's start-up and inherits nothing of the worker), and waits for it: the pool process
holds the worker's slot for as long as the job runs and keeps none of its memory.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vatti.executors.celery_app import TaskMessage
from vatti.executors.celery_records import RunRecords
from vatti.executors.errors import ExecutorError
from vatti.executors.launcher import CANNOT_START, WRAPPER_FIELD
from vatti.executors.launcher_client import LauncherClient
from vatti.executors.local import (
    DEFAULT_INHERITED_ENV,
    RUNTIME_ENTRY,
    RUNTIME_PRELOAD,
    SCRATCH_DIR_VAR,
)
from vatti.executors.processes import still_running
from vatti.executors.sealed_secrets import SealBroken, unseal

log = logging.getLogger("vatti.worker")

#: what the launcher forks for each job
WRAPPER = "vatti.executors.celery_wrapper:forked"
#: how often a task waiting for its job checks that the wrapper still exists (the launcher,
#: which reports the wrapper's exit, could die first)
WRAPPER_CHECK_S = 1.0


class JobStarter:
    """A pool process's launcher, and the jobs it waits for.

    The launcher is started on first use, so in the pool process (after the pool's fork); a
    pool process runs one task at a time."""

    def __init__(self, env: Mapping[str, str], preload: Sequence[str]) -> None:
        self.launcher = LauncherClient(env, preload)
        self._ended: dict[str, threading.Event] = {}
        self.launcher.on_exit(self._exited)

    def _exited(self, job_id: str) -> None:
        event = self._ended.get(job_id)
        if event is not None:
            event.set()

    def run(self, request: Mapping[str, Any]) -> None:
        """Start the job's wrapper and wait until it exits. Raises SubmitFailed."""
        job_id = str(request["job_id"])
        ended = self._ended[job_id] = threading.Event()
        try:
            pid, created = self.launcher.start_job({**request, WRAPPER_FIELD: WRAPPER})
            while not ended.wait(WRAPPER_CHECK_S):
                if not still_running(pid, created):
                    return
        finally:
            self._ended.pop(job_id, None)


@dataclass(frozen=True)
class WorkerContext:
    """What every task of one worker needs."""

    records: RunRecords
    state_url: str = ""
    secrets_keys: tuple[str, ...] = ()
    data_dir: Path = Path("vatti-data")
    entry: str = RUNTIME_ENTRY
    inherit_env: tuple[str, ...] = DEFAULT_INHERITED_ENV
    record_ttl_s: float = 7 * 86400.0
    starter: JobStarter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        modules = (WRAPPER.partition(":")[0], *RUNTIME_PRELOAD, self.entry.partition(":")[0])
        starter = JobStarter(self.inherited_env(), tuple(dict.fromkeys(modules)))
        object.__setattr__(self, "starter", starter)

    @property
    def scratch_root(self) -> Path:
        return self.data_dir / "scratch"

    def run_dir(self, job_id: str) -> Path:
        return self.data_dir / "runs" / job_id

    def inherited_env(self) -> dict[str, str]:
        return {k: os.environ[k] for k in self.inherit_env if k in os.environ}


def worker_id() -> str:
    """This pool process, as claims name it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_task(ctx: WorkerContext, kwargs: Mapping[str, Any], node: str = "") -> str:
    """Run one delivery of a task; what became of it (``ran``, ``discarded``, ``refused``)."""
    try:
        message = TaskMessage.from_kwargs(kwargs)
    except ExecutorError as exc:
        log.error("task.refused %s", exc.message)
        return "refused"
    job_id, attempt, me = message.job_id, message.attempt, worker_id()
    if not ctx.records.claim(job_id, attempt, me):
        ctx.records.note_discard(job_id, attempt, me, "the attempt was claimed already")
        log.info("task.discarded job_id=%s attempt=%d: claimed already", job_id, attempt)
        return "discarded"
    ctx.records.beat(job_id, attempt)
    log.info("task.claimed job_id=%s attempt=%d worker=%s", job_id, attempt, me)
    try:
        secrets = unseal(ctx.secrets_keys, job_id, attempt, message.sealed_secrets)
    except SealBroken as exc:
        ctx.records.mark_exited(job_id, attempt, CANNOT_START, exc.message)
        log.error("task.failed job_id=%s attempt=%d: %s", job_id, attempt, exc.message)
        return "ran"
    wall = message.wall_time_s
    request = {
        "job_id": job_id,
        "attempt": attempt,
        "run_dir": str(ctx.run_dir(job_id)),
        "memory_mb": message.memory_mb,
        "env": {
            **ctx.inherited_env(),
            **message.env,
            SCRATCH_DIR_VAR: str(ctx.scratch_root),
        },
        "secrets": secrets,
        "entry": ctx.entry,
        "deadline_s": wall + message.wall_time_margin_s if wall > 0 else 0.0,
        "timeout_grace_s": message.timeout_grace_s,
        "state_url": ctx.state_url,
        "record_ttl_s": ctx.record_ttl_s,
        "host": socket.gethostname(),
        "node": node,
    }
    try:
        ctx.starter.run(request)
    except ExecutorError as exc:
        reason = f"the worker could not start the job: {exc.message}"
        ctx.records.mark_exited(job_id, attempt, CANNOT_START, reason)
        return "ran"
    finally:
        del request, secrets
    record = ctx.records.read(job_id, attempt)
    if record.state != "exited":
        reason = "the job's wrapper ended without recording the job's exit"
        ctx.records.mark_exited(job_id, attempt, CANNOT_START, reason)
    log.info("task.ended job_id=%s attempt=%d code=%s", job_id, attempt, record.code)
    return "ran"
