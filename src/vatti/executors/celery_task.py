"""The body of the Celery task, in a worker's pool process: claim the attempt, run its wrapper.

A delivery whose attempt is already claimed (by a worker, or by a cancellation before any
worker took it) is discarded and acknowledged: that covers a duplicate publish, a redelivery
after a visibility timeout or a lost worker, and a delivery that arrives after the job ended.
Otherwise the task starts the job's wrapper (:mod:`.celery_wrapper`, a fresh interpreter in a
session of its own) and waits for it, so the pool process holds the worker's slot for as long
as the job runs and keeps none of its memory.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vatti.executors.celery_app import TaskMessage
from vatti.executors.celery_records import RunRecords
from vatti.executors.celery_seal import SealBroken, unseal
from vatti.executors.errors import ExecutorError
from vatti.executors.launcher import CANNOT_START
from vatti.executors.local import DEFAULT_INHERITED_ENV, RUNTIME_ENTRY, SCRATCH_DIR_VAR

log = logging.getLogger("vatti.worker")

WRAPPER_MODULE = "vatti.executors.celery_wrapper"


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
        wrapper = subprocess.Popen(
            [sys.executable, "-m", WRAPPER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=ctx.inherited_env(),
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        reason = f"the worker could not start the job: {exc.strerror}"
        ctx.records.mark_exited(job_id, attempt, CANNOT_START, reason)
        return "ran"
    assert wrapper.stdin is not None
    with wrapper.stdin:
        wrapper.stdin.write(json.dumps(request).encode())
    del request, secrets
    code = wrapper.wait()
    if code < 0 or ctx.records.read(job_id, attempt).state != "exited":
        reason = f"the job's wrapper ended with status {code} without recording the job's exit"
        ctx.records.mark_exited(job_id, attempt, CANNOT_START, reason)
    log.info("task.ended job_id=%s attempt=%d code=%d", job_id, attempt, code)
    return "ran"
