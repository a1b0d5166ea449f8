"""What the Celery executor and its workers agree on: the app's settings, the task and its message.

One task, :data:`TASK_NAME`, acknowledged late and rejected (so delivered again) when the worker
running it is lost; prefetch 1, so a busy worker holds no other job's message. Its keyword
arguments are a :class:`TaskMessage`: which attempt of which job, its limits, the runtime's plain
settings and its secret ones sealed (:mod:`.sealed_secrets`). Monitors (Flower, the worker's log)
show the job id and attempt only (``kwargsrepr``), never the settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

from celery import Celery

from vatti.executors.errors import ExecutorError

if TYPE_CHECKING:
    from vatti.config import CelerySettings

TASK_NAME: Final = "vatti.run_job"
#: the control command a worker runs to delete a job's scratch (the executor's clean-up)
CLEANUP_COMMAND: Final = "vatti_cleanup"
#: job ids the executor accepts: they name Redis keys and run directories
JOB_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class BadMessage(ExecutorError):
    """A task message that is not one the Celery executor sent."""

    code = "executor_bad_message"


@dataclass(frozen=True)
class TaskMessage:
    """The keyword arguments of one :data:`TASK_NAME` task."""

    job_id: str
    attempt: int
    memory_mb: int = 0
    wall_time_s: float = 0.0
    wall_time_margin_s: float = 0.0
    timeout_grace_s: float = 5.0
    env: Mapping[str, str] = field(default_factory=dict)
    sealed_secrets: str = field(default="", repr=False)

    def kwargs(self) -> dict[str, Any]:
        return {**asdict(self), "env": dict(self.env)}

    def kwargsrepr(self) -> str:
        """What monitors show of the task: the job and attempt.

        >>> TaskMessage("j1", 2).kwargsrepr()
        "{'job_id': 'j1', 'attempt': 2}"
        """
        return repr({"job_id": self.job_id, "attempt": self.attempt})

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> TaskMessage:
        try:
            message = cls(
                job_id=str(kwargs["job_id"]),
                attempt=int(kwargs["attempt"]),
                memory_mb=int(kwargs.get("memory_mb") or 0),
                wall_time_s=float(kwargs.get("wall_time_s") or 0.0),
                wall_time_margin_s=float(kwargs.get("wall_time_margin_s") or 0.0),
                timeout_grace_s=float(kwargs.get("timeout_grace_s") or 0.0),
                env={str(k): str(v) for k, v in dict(kwargs.get("env") or {}).items()},
                sealed_secrets=str(kwargs.get("sealed_secrets") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadMessage(f"not a vatti task message: {type(exc).__name__}") from None
        if not JOB_ID.match(message.job_id) or message.attempt < 1:
            raise BadMessage("not a vatti task message: bad job id or attempt")
        return message


def task_id(job_id: str, attempt: int) -> str:
    """The Celery task id of one attempt (every publish of it has the same).

    >>> task_id("j1", 3)
    'vatti-j1-3'
    """
    return f"vatti-{job_id}-{attempt}"


def restore_interval_s(visibility_timeout_s: float) -> int:
    """How often a Redis consumer looks for unacknowledged tasks past their visibility timeout.

    >>> restore_interval_s(3600), restore_interval_s(2)
    (10, 1)
    """
    return int(max(1, min(10, visibility_timeout_s // 4)))


def make_app(settings: CelerySettings, *, name: str = "vatti") -> Celery:
    """The Celery app of the executor (which only sends) and of a worker (which registers the
    task on it)."""
    broker = settings.celery_broker_url
    if broker is None:
        raise ExecutorError("VATTI_CELERY_BROKER_URL is not set")
    app = Celery(name, broker=broker.get_secret_value(), set_as_current=False)
    visibility = settings.celery_visibility_timeout
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_default_queue=settings.celery_default_queue,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_send_task_events=settings.celery_events,
        task_send_sent_event=settings.celery_events,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": restore_interval_s(visibility),
            "unacked_restore_throttle": 1,
        },
    )
    return app
