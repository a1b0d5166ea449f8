"""Run each job on a Celery worker (``VATTI_EXECUTOR=celery``, ``pip install 'vatti[celery]'``).

:meth:`CeleryExecutor.submit` publishes one task (:mod:`.celery_app`) to the queue of the job's
pipeline (``VATTI_CELERY_QUEUES``, else ``VATTI_CELERY_DEFAULT_QUEUE``); a ``vatti worker``
(:mod:`.celery_worker`) claims the attempt and runs the job runtime in a child process that
exits with it. Celery only carries the task: the job's state is what the worker records in the
state store (:mod:`.celery_records`: claim, status, heartbeat, log), which this executor reads
from the handle alone, so a restarted engine follows its jobs as before.

- ``poll``: exited (the recorded exit) / running (claimed, its wrapper beating) / pending (not
  claimed yet: queued, or on its way to a worker) / vanished (claimed, but nobody beats any
  more: the worker's host was lost; or the store has no record of the attempt at all: it lost
  its data, so no worker will ever report on the job).
- ``terminate``: when no worker has the attempt yet, takes its claim for the cancellation (no
  later delivery can run it) and revokes the task (a queued or prefetched delivery is dropped);
  otherwise asks the job's wrapper to stop the job's process group (SIGTERM, the grace,
  SIGKILL) and waits for the recorded exit.
- ``read_log``: the log the wrapper streams to the store, by offset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from vatti.domain.urls import redact_url
from vatti.executors.base import (
    LOG_CHUNK_BYTES,
    WALL_TIME_MARGIN_S,
    ExecStatus,
    Exited,
    Launch,
    LogChunk,
    Pending,
    Running,
    Vanished,
)
from vatti.executors.celery_app import (
    CLEANUP_COMMAND,
    JOB_ID,
    TASK_NAME,
    TaskMessage,
    make_app,
    task_id,
)
from vatti.executors.celery_records import CANCELLED, RunRecord, RunRecords
from vatti.executors.errors import BadHandle, ExecutorError, SubmitFailed
from vatti.executors.sealed_secrets import seal

if TYPE_CHECKING:
    from vatti.config import CelerySettings, Settings

log = logging.getLogger("vatti.executors.celery")

HANDLE_VERSION = 1
#: the exit of an attempt cancelled before a worker took it
CANCELLED_EXIT = 128 + signal.SIGTERM
KILL_WAIT_S = 5.0
WAIT_STEP_S = 0.02
#: how long a clean-up waits for the worker's confirmation
CLEANUP_REPLY_S = 5.0


@dataclass(frozen=True)
class CeleryHandle:
    """One attempt's task: the job, the attempt, the task id and the queue it went to."""

    job_id: str
    attempt: int
    task_id: str
    queue: str

    def dumps(self) -> str:
        """The JSON form stored by the engine.

        >>> h = CeleryHandle("j1", 1, "vatti-j1-1", "vatti")
        >>> CeleryHandle.loads(h.dumps()) == h
        True
        """
        return json.dumps({"executor": "celery", "v": HANDLE_VERSION, **asdict(self)})

    @classmethod
    def loads(cls, text: str) -> CeleryHandle:
        try:
            body = json.loads(text)
            if body.get("executor") != "celery" or body.get("v") != HANDLE_VERSION:
                raise ValueError("not a celery executor handle")
            handle = cls(
                str(body["job_id"]), int(body["attempt"]), str(body["task_id"]), str(body["queue"])
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BadHandle(f"invalid celery executor handle: {exc}") from exc
        if not JOB_ID.match(handle.job_id):
            raise BadHandle("invalid celery executor handle: bad job id")
        return handle


def status_of(record: RunRecord) -> ExecStatus:
    """The executor status a state-store record means."""
    if record.state == "exited":
        return Exited(record.code if record.code is not None else -1, record.reason, record.limit)
    if record.claimant is None:
        if not record.sent:
            return Vanished(
                "the celery state store has no record of the job's task (its data was lost: "
                "flushed, restarted without persistence, or older than VATTI_CELERY_RECORD_TTL)"
            )
        return Pending()
    if record.alive:
        return Running() if record.state == "running" else Pending()
    return Vanished(f"worker {record.claimant} stopped reporting on the job (lost with its host?)")


class CeleryExecutor:
    """Jobs as Celery tasks run by ``vatti worker``; see the module documentation."""

    name = "celery"

    def __init__(
        self,
        settings: CelerySettings,
        *,
        wall_time_margin_s: float = WALL_TIME_MARGIN_S,
        timeout_grace_s: float = 5.0,
    ) -> None:
        problems = settings.problems()
        if problems:
            raise ExecutorError("; ".join(problems))
        state_url = settings.state_url()
        assert state_url is not None  # checked by problems()
        self.app = make_app(settings)
        self.records = RunRecords.from_url(state_url, settings.celery_record_ttl)
        self.secrets_keys = settings.secrets_keys()
        self.default_queue = settings.celery_default_queue
        self.queues = settings.queue_map()
        self.broker = redact_url(settings.celery_broker_url.get_secret_value())  # type: ignore[union-attr]
        self.wall_time_margin_s = wall_time_margin_s
        self.timeout_grace_s = timeout_grace_s
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    def queue_of(self, pipeline: str | None) -> str:
        return self.queues.get(pipeline or "", self.default_queue)

    def message(self, launch: Launch) -> TaskMessage:
        return TaskMessage(
            job_id=launch.job_id,
            attempt=launch.attempt,
            memory_mb=launch.limits.memory_mb or 0,
            wall_time_s=float(launch.limits.wall_time_s or 0),
            wall_time_margin_s=self.wall_time_margin_s,
            timeout_grace_s=self.timeout_grace_s,
            env=dict(launch.env),
            sealed_secrets=seal(self.secrets_keys, launch.job_id, launch.attempt, launch.secrets),
        )

    def submit(self, launch: Launch) -> str:
        if not JOB_ID.match(launch.job_id):
            raise SubmitFailed(f"invalid job id for the celery executor: {launch.job_id!r}")
        message = self.message(launch)
        handle = CeleryHandle(
            launch.job_id,
            launch.attempt,
            task_id(launch.job_id, launch.attempt),
            self.queue_of(launch.pipeline),
        )
        try:
            self.records.mark_sent(launch.job_id, launch.attempt)
        except Exception as exc:  # redis-py's errors
            raise SubmitFailed(
                f"job {launch.job_id}: the celery state store is unreachable: {type(exc).__name__}"
            ) from None
        try:
            self.app.send_task(
                TASK_NAME,
                kwargs=message.kwargs(),
                task_id=handle.task_id,
                queue=handle.queue,
                kwargsrepr=message.kwargsrepr(),
                argsrepr="()",
            )
        except Exception as exc:  # kombu raises its own and the driver's errors
            with contextlib.suppress(Exception):
                self.records.forget_sent(launch.job_id, launch.attempt)
            raise SubmitFailed(
                f"job {launch.job_id}: could not publish its task to {self.broker}: "
                f"{type(exc).__name__}"
            ) from None
        return handle.dumps()

    def _read(self, h: CeleryHandle) -> RunRecord:
        try:
            return self.records.read(h.job_id, h.attempt)
        except Exception as exc:  # redis-py's errors
            raise ExecutorError(f"the celery state store is unreachable: {exc}") from None

    def poll(self, handle: str) -> ExecStatus:
        h = CeleryHandle.loads(handle)
        status = status_of(self._read(h))
        if isinstance(status, Vanished):  # it may have ended between the reads
            return status_of(self._read(h))
        return status

    def terminate(self, handle: str, grace_s: float) -> None:
        h = CeleryHandle.loads(handle)
        if isinstance(status_of(self._read(h)), Exited):
            return
        if self.records.claim(h.job_id, h.attempt, CANCELLED):
            reason = "cancelled before a worker started it"
            self.records.mark_exited(h.job_id, h.attempt, CANCELLED_EXIT, reason)
            self._revoke(h)  # its queued (or prefetched) delivery is dropped
            return
        self.records.request_cancel(h.job_id, h.attempt, grace_s)
        deadline = time.monotonic() + grace_s + KILL_WAIT_S + 5.0
        while time.monotonic() < deadline:
            if isinstance(status_of(self._read(h)), Exited | Vanished):
                return
            time.sleep(WAIT_STEP_S)
        log.warning("executor.terminate_timeout job_id=%s attempt=%d", h.job_id, h.attempt)

    def _revoke(self, h: CeleryHandle) -> None:
        try:
            self.app.control.revoke(h.task_id)
        except Exception as exc:  # the claim stops it anyway; the revoke only saves a delivery
            log.warning("executor.revoke_failed job_id=%s: %s", h.job_id, type(exc).__name__)

    def cleanup(self, handle: str) -> None:
        """Stop what runs of the attempt and ask the worker that ran it to delete its scratch.

        The claim stays (until its TTL), so a late delivery is still discarded."""
        h = CeleryHandle.loads(handle)
        self.terminate(handle, 0.0)
        node = self._read(h).node
        if not node:
            return  # it never ran: no scratch
        try:
            replies = self.app.control.broadcast(
                CLEANUP_COMMAND,
                arguments={"job_id": h.job_id},
                destination=[node],
                reply=True,
                timeout=CLEANUP_REPLY_S,
                limit=1,
            )
        except Exception as exc:  # the broker's errors
            replies, why = [], type(exc).__name__
        else:
            why = "no reply"
        if not replies:
            log.warning("executor.cleanup_unconfirmed job_id=%s node=%s: %s", h.job_id, node, why)

    def read_log(
        self, handle: str, offset: int = 0, limit: int = LOG_CHUNK_BYTES
    ) -> LogChunk | None:
        h = CeleryHandle.loads(handle)
        start = max(0, offset)
        data = self.records.read_log(h.job_id, start, max(0, limit))
        if data is None:
            return None
        return LogChunk(data, start + len(data))

    def on_exit(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(job_id)`` when a worker records a job's exit (one listener thread)."""
        if self._listener is None:
            self._callbacks: list[Callable[[str], None]] = []
            self._listener = threading.Thread(
                target=self.records.listen_exits,
                args=(self._announce, self._stop),
                name="vatti-celery-exits",
                daemon=True,
            )
            self._listener.start()
        self._callbacks.append(callback)

    def _announce(self, job_id: str) -> None:
        for callback in list(self._callbacks):
            callback(job_id)

    def run_ids(self) -> list[str]:
        return sorted(self.records.logged_jobs())

    def delete_run(self, job_id: str) -> None:
        if JOB_ID.match(job_id):
            self.records.delete_job(job_id)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5.0)
        self.app.close()
        self.records.close()


def from_settings(settings: Settings) -> CeleryExecutor:
    """The registry's factory (``VATTI_EXECUTOR=celery``)."""
    if settings.celery is None:
        raise ExecutorError("the celery settings were not loaded")
    return CeleryExecutor(settings.celery)
