"""Everything an engine pass needs: its collaborators, its configuration, its clock."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vatti.domain.ids import new_id
from vatti.domain.jobs import Job
from vatti.domain.outcome import Outcome
from vatti.domain.times import utcnow
from vatti.engine.logs import engine_logger
from vatti.engine.notifications import webhook_notifications
from vatti.engine.ports import Executor, Notifier, RetryPolicy, WorkAreas
from vatti.store.base import JobStore, NotifyBuilder

if TYPE_CHECKING:
    from vatti.config import EngineSettings, RuntimeLaunch


def replica_name() -> str:
    """A name for this engine replica in lease rows (host, and a random suffix)."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-12:]}"


def holder_is_dead_here(holder: str, host: str | None = None) -> bool:
    """Whether ``holder`` names a replica on this host whose process no longer exists.

    >>> holder_is_dead_here("elsewhere:1:abc", host="here")
    False
    >>> holder_is_dead_here(f"here:{os.getpid()}:abc", host="here")
    False
    """
    name, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if name != (host or socket.gethostname()) or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class EngineConfig:
    """The engine's knobs, in plain units (seconds, MiB): :meth:`from_settings` derives them.

    The settings' defaults are declared once, in :class:`vatti.config.EngineSettings`; the
    fields with defaults here are the engine's own, which no setting exposes.
    """

    max_concurrent_jobs: int
    poll_interval_s: float
    reconcile_interval_s: float
    queue_timeout_s: float | None
    provision_timeout_s: float
    default_memory_mb: int | None
    default_wall_time_s: int | None
    results_ttl_s: float
    terminate_grace_s: float
    webhook_url: str | None
    #: what each job's runtime is given: plain ``VATTI_*`` variables, and the secret ones
    runtime_env: Mapping[str, str] = field(default_factory=dict)
    runtime_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    outbox_batch: int = 50
    outbox_lease_s: float = 60.0
    lease_ttl_s: float = 60.0
    holder: str = field(default_factory=replica_name)

    @classmethod
    def from_settings(
        cls, settings: EngineSettings, runtime: RuntimeLaunch | None = None
    ) -> EngineConfig:
        """The config of ``settings``, passing ``runtime`` to each job it launches.

        :func:`vatti.testing.config.engine_config` is the engine on default settings.
        """
        wall_time = settings.job_wall_time
        return cls(
            max_concurrent_jobs=settings.max_concurrent_jobs,
            poll_interval_s=settings.poll_interval,
            reconcile_interval_s=settings.reconcile_interval,
            queue_timeout_s=settings.queue_timeout,
            provision_timeout_s=settings.provision_timeout,
            default_memory_mb=settings.job_memory_mb,
            default_wall_time_s=int(wall_time) if wall_time else None,
            results_ttl_s=settings.results_ttl,
            terminate_grace_s=settings.terminate_grace,
            webhook_url=settings.webhook_url,
            lease_ttl_s=settings.engine_lease_ttl,
            runtime_env=dict(runtime.env) if runtime is not None else {},
            runtime_secrets=dict(runtime.secrets) if runtime is not None else {},
        )


#: locks that order the announcements of this engine's state changes (by job id)
ORDERING_STRIPES = 64


class Outcomes(Protocol):
    """Where the engine reads what ``vatti job-run`` reported."""

    def read(self, job_id: str) -> Outcome | None:
        """The job's outcome record, or None when there is none (or it is unreadable)."""
        ...

    def forget(self, job_id: str) -> None: ...


@dataclass
class EngineContext:
    store: JobStore
    executor: Executor
    areas: WorkAreas
    outcomes: Outcomes
    config: EngineConfig
    notifier: Notifier | None = None
    retry: RetryPolicy | None = None
    scratch_root: Path | None = None
    clock: Callable[[], datetime] = utcnow
    logger: logging.Logger = field(default_factory=engine_logger)
    #: called (from worker threads) with the job after each state change this replica made
    listeners: list[Callable[[Job], None]] = field(default_factory=list)
    notify: NotifyBuilder = field(init=False)
    _orderings: tuple[threading.Lock, ...] = field(
        init=False, default_factory=lambda: tuple(threading.Lock() for _ in range(ORDERING_STRIPES))
    )

    def __post_init__(self) -> None:
        self.notify = webhook_notifications(self.config.webhook_url)

    def now(self) -> datetime:
        return self.clock()

    def ordering(self, job_id: str) -> threading.Lock:
        """Held from a change of ``job_id`` to its announcement, so listeners hear one job's
        changes in the order they were made, even when two threads make them."""
        return self._orderings[hash(job_id) % ORDERING_STRIPES]

    def scratch_dir(self, job_id: str) -> Path | None:
        return self.scratch_root / job_id if self.scratch_root is not None else None
