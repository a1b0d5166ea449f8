"""The job store interface, shared by the SQL store and the in-memory fake.

Every method is synchronous; async callers use ``asyncio.to_thread``. Times are passed in by the
caller (``now``), so behaviour is reproducible and the store never reads a clock on its own.

Ownership: every job an engine admitted is *owned* by that engine replica through a lease in the
job's row (``owner``, ``owner_expires_at``), renewed by the owner's heartbeat. An engine follows
the jobs it owns (and those nobody owns); once an owner's lease expired, another engine takes its
jobs over. Admission (:meth:`JobStore.claim_queued`) reserves queued jobs for one owner under the
global concurrency limit, atomically across every process sharing the database.

Notifications: the store does not know where notifications go or what they say. Callers pass a
:data:`NotifyBuilder`, called inside the transaction once per new event row; the messages it
returns are written to the outbox in the same transaction as the state change.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from vatti.domain.access import DEFAULT_TENANT, ENGINE_ACTOR
from vatti.domain.failure import Failure
from vatti.domain.jobs import Job, JobEventRecord, OutboxMessage
from vatti.domain.states import Effect, JobEvent, JobState
from vatti.store.errors import InvalidCursor

Conflict = Literal["client_id", "fingerprint"]

#: the states that hold one of the global concurrency slots (``VATTI_MAX_CONCURRENT_JOBS``)
ACTIVE_STATES = frozenset({JobState.PROVISIONING, JobState.RUNNING, JobState.CANCELLING})
#: the most jobs one page of ``list_jobs`` holds, whatever limit is asked
MAX_PAGE = 1000


@dataclass(frozen=True)
class Notification:
    """One outbox message: ``channel`` (e.g. "webhook"), ``destination`` (e.g. a URL)."""

    channel: str
    destination: str
    payload: dict[str, Any]


NotifyBuilder = Callable[[Job, JobEventRecord], Sequence[Notification]]


@dataclass(frozen=True)
class NewJob:
    """What :meth:`JobStore.submit` needs to create a job."""

    pipeline: str
    spec: dict[str, Any]
    fingerprint: str
    client_id: str | None = None
    webhook_url: str | None = None
    #: the tenant the job belongs to; client ids and fingerprints are unique per tenant
    tenant: str = DEFAULT_TENANT
    #: who submitted it (the actor of its ``submit`` and ``accept`` rows)
    actor: str | None = None


@dataclass(frozen=True)
class SubmitResult:
    """``created`` is False when an existing job is returned; ``conflict`` says why."""

    job: Job
    created: bool
    conflict: Conflict | None = None


@dataclass(frozen=True)
class TransitionResult:
    """The job after the transition, the event row written, and the effects the engine performs."""

    job: Job
    record: JobEventRecord
    effects: tuple[Effect, ...]


@dataclass(frozen=True)
class Page:
    items: list[Job]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Changes:
    """Optional column updates that travel with a transition."""

    failure: Failure | None = None
    executor: str | None = None
    handle: str | None = None
    results_expire_at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboxBacklog:
    """The outbox of one channel (a destination kind: "webhook", "kafka"): messages waiting
    (``pending``, the oldest created at ``oldest_pending_at``), ``delivered``, given up
    (``dead``), and the delivery ``attempts`` made so far over all of them; ``retrying``: the
    pending messages that failed at least once."""

    channel: str
    pending: int
    delivered: int
    dead: int
    attempts: int
    oldest_pending_at: datetime | None = None
    retrying: int = 0


@dataclass(frozen=True)
class EndedJob:
    """The times and outcome of a job that ended (no id, no spec): what ``/metrics`` counts.

    ``admitted_at``: when it left the queue (its first ``provisioning`` event); ``summary``: the
    figures its ``succeeded`` event holds (:attr:`vatti.domain.outcome.Outcome.summary`).
    """

    pipeline: str
    state: JobState
    created_at: datetime
    finished_at: datetime
    executor: str | None = None
    failure_code: str | None = None
    queued_at: datetime | None = None
    admitted_at: datetime | None = None
    started_at: datetime | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One delivered outbox message: its channel, when it was written and delivered, and the
    attempts it took."""

    channel: str
    created_at: datetime
    delivered_at: datetime
    attempts: int


class JobStore(Protocol):
    def close(self) -> None:
        """Release connections (the store is not used afterwards)."""
        ...

    def submit(
        self,
        new: NewJob,
        *,
        now: datetime,
        dedup_window_s: float,
        notify: NotifyBuilder | None = None,
    ) -> SubmitResult:
        """Create a job in ``queued`` (events ``submit``, ``accept``), or return the existing one.

        A known ``client_id`` of the same tenant returns its job with conflict "client_id".
        Without a client id, an identical fingerprint submitted by the same tenant within
        ``dedup_window_s`` returns that job with conflict "fingerprint". Safe under concurrent
        identical calls: exactly one job is created.
        """
        ...

    def transition(
        self,
        job_id: str,
        event: JobEvent,
        *,
        now: datetime,
        changes: Changes | None = None,
        notify: NotifyBuilder | None = None,
        actor: str = ENGINE_ACTOR,
    ) -> TransitionResult:
        """Apply ``event`` with a compare-and-set on the state; write the event and outbox rows
        (the event row names ``actor``).

        Raises ``JobNotFound``, ``InvalidTransition`` (naming the actual state) or
        ``StaleTransition`` when a concurrent writer got there first.
        """
        ...

    def record_event(
        self,
        job_id: str,
        event: JobEvent,
        *,
        now: datetime,
        actor: str,
        detail: dict[str, Any] | None = None,
    ) -> JobEventRecord:
        """Append an audit row (one of :data:`AUDIT_EVENTS`: a download) that changes no state;
        raises ``JobNotFound``, or ValueError for an event that is a transition."""
        ...

    def schema_at_head(self) -> bool:
        """Whether the database is migrated to this code's head revision (``StoreUnavailable``
        when it cannot be reached)."""
        ...

    def get(self, job_id: str) -> Job: ...

    def get_by_client_id(self, client_id: str, tenant: str = DEFAULT_TENANT) -> Job | None: ...

    def list_jobs(
        self,
        *,
        state: JobState | Iterable[JobState] | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        tenant: str | None = None,
    ) -> Page:
        """Newest first, with an opaque cursor for the next page (None on the last page); only
        ``tenant``'s jobs when given."""
        ...

    def events(self, job_id: str) -> list[JobEventRecord]: ...

    def jobs_in_states(
        self, states: Iterable[JobState], limit: int = 1000, *, owner: str | None = None
    ) -> list[Job]:
        """Oldest first. With ``owner``: only the jobs it owns and those nobody owns."""
        ...

    def claim_queued(
        self, holder: str, *, max_active: int, ttl_s: float, now: datetime
    ) -> list[Job]:
        """Reserve for ``holder`` the oldest queued jobs that fit under ``max_active``.

        Taken are the jobs in :data:`ACTIVE_STATES` (whoever owns them) and the queued jobs that
        another live owner reserved; the free slots go to queued jobs nobody holds (or whose
        reservation expired, or that ``holder`` reserved before), oldest first. The count and the
        claim are one step across every process sharing the store, so engines together never
        reserve more than ``max_active``. The jobs returned are still queued: the caller admits
        them (their lease lasts ``ttl_s``).
        """
        ...

    def renew_ownership(self, holder: str, *, ttl_s: float, now: datetime) -> int:
        """Extend the lease of every unfinished job ``holder`` owns (its heartbeat); how many."""
        ...

    def adopt_jobs(
        self,
        holder: str,
        *,
        ttl_s: float,
        now: datetime,
        dead_owners: Iterable[str] = (),
    ) -> list[str]:
        """Take over the admitted, unfinished jobs whose owner's lease expired, that nobody
        owns, or whose owner is in ``dead_owners``; returns their ids."""
        ...

    def job_owners(self) -> set[str]:
        """The owners of unfinished jobs (live or expired)."""
        ...

    def release_ownership(self, holder: str, *, now: datetime) -> int:
        """End ``holder``'s leases now (a clean stop): others take its jobs over at once."""
        ...

    def next_queued(self, limit: int) -> list[Job]:
        """Queued jobs in FIFO order (by creation time)."""
        ...

    def count_in_states(self, states: Iterable[JobState], *, tenant: str | None = None) -> int: ...

    # -- figures for /metrics and the dashboard's summary (no job ids leave them) ---------------

    def job_counts_by_state_and_pipeline(self) -> dict[tuple[JobState, str], int]:
        """How many jobs are in each (state, pipeline); pairs without jobs are left out."""
        ...

    def outbox_backlog(self) -> list[OutboxBacklog]:
        """Per channel, by channel name: pending, delivered and dead messages, attempts made."""
        ...

    def jobs_ended_between(self, since: datetime, until: datetime | None = None) -> list[EndedJob]:
        """The jobs that ended (``finished_at``) at or after ``since`` and before ``until``
        (None: any time after), oldest first."""
        ...

    def deliveries_between(self, since: datetime, until: datetime | None = None) -> list[Delivery]:
        """The outbox messages delivered at or after ``since`` and before ``until`` (None: any
        time after), oldest first."""
        ...

    def set_handle(self, job_id: str, executor: str, handle: str, *, now: datetime) -> Job: ...

    def set_failure(self, job_id: str, failure: Failure, *, now: datetime) -> Job:
        """Record or refine a job's failure without a state change."""
        ...

    def set_results_expiry(self, job_id: str, at: datetime | None, *, now: datetime) -> Job: ...

    def expired_results(self, now: datetime, limit: int = 100) -> list[Job]:
        """Jobs whose results expired and are not yet marked deleted."""
        ...

    def mark_results_deleted(self, job_id: str, *, now: datetime) -> None: ...

    def prune_dedup(self, now: datetime) -> int:
        """Forget expired fingerprints; returns how many."""
        ...

    def claim_outbox(self, now: datetime, limit: int, lease_s: float) -> list[OutboxMessage]:
        """Claim due messages: per (job, channel, destination) only the oldest undelivered one."""
        ...

    def mark_delivered(self, msg_id: int, now: datetime) -> None: ...

    def mark_failed(self, msg_id: int, error: str, next_attempt_at: datetime) -> None:
        """Record a failed attempt (attempts + 1) and when to try again; releases the claim."""
        ...

    def mark_dead(self, msg_id: int, error: str, now: datetime) -> None:
        """Give up on a message (attempts + 1); later messages of its stream become due."""
        ...

    def outbox_for(self, job_id: str) -> list[OutboxMessage]:
        """All outbox messages of a job, oldest first (for inspection and tests)."""
        ...

    def acquire_lease(self, name: str, holder: str, ttl_s: float, now: datetime) -> bool:
        """Take or renew the named lease; False while another holder's lease is live."""
        ...

    def lease_holders(self) -> dict[str, str]:
        """Lease name -> holder, for every lease row (live or expired)."""
        ...

    def release_lease(self, name: str, holder: str) -> None: ...


def encode_cursor(created_at: datetime, job_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), job_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, job_id = json.loads(raw)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(job_id, str) or "\x00" in job_id:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor(cursor) from exc
    return when, job_id
