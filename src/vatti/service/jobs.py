"""The job service: submit (with dedup and ``client_id`` rules), cancel, retry, and read jobs.

Every caller goes through it: the HTTP API, the CLI's ``vatti run``, and later the WES facade,
the Kafka intake and the dashboard. It works on the store and never on an engine: state changes
it makes (a new job, a cancellation, a retry) are written with their outbox rows in one
transaction, then the engines are woken through :class:`Wakeups` (in this process, and in
others where the database can tell them). Errors are the domain's (:mod:`vatti.service.errors`,
the store's ``JobNotFound``, the registry's ``UnknownPipeline``/``InvalidParams``).

Every call names its :class:`~vatti.domain.access.Caller`: a caller sees and acts on its own
tenant's jobs only (another tenant's is ``JobNotFound``, as a job that does not exist), its
scopes decide what it may submit, cancel and retry (:class:`Forbidden`), and every event row the
call writes (submit, cancel, retry, a log read, an output download) names its actor.

Every method is synchronous (the store is); async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from vatti.domain.access import Caller
from vatti.domain.errors import InvalidTransition
from vatti.domain.ids import ID_PATTERN
from vatti.domain.jobs import Job, JobEventRecord
from vatti.domain.manifest import Manifest, OutputEntry
from vatti.domain.states import RETRYABLE_STATES, JobEvent, JobState
from vatti.domain.times import utcnow
from vatti.pipelines.base import PipelineRegistry
from vatti.service.errors import (
    DuplicateClientId,
    Forbidden,
    LogNotFound,
    NotCancellable,
    NotRetryable,
    OutputMissing,
    ResultsNotFound,
)
from vatti.service.requests import job_of_body
from vatti.staging.errors import ObjectNotFound
from vatti.store.base import JobStore, NewJob, NotifyBuilder, Page
from vatti.store.errors import JobNotFound

log = logging.getLogger("vatti.service")

#: The topics engines are woken on: a job was queued, a job is cancelling, messages are due.
ADMISSION, CANCEL, OUTBOX = "admission", "cancel", "outbox"

#: The most log bytes returned (the end of the log).
MAX_LOG_BYTES = 4 << 20


class Wakeups(Protocol):
    def notify(self, topic: str) -> None:
        """Wake the engines that act on ``topic`` (never blocks for long, never raises)."""
        ...


class Results(Protocol):
    """A job's results area (:class:`vatti.staging.areas.ObjectWorkAreas` is one)."""

    def manifest(self, job_id: str) -> Manifest:
        """The job's manifest; ``ObjectNotFound`` when it has no results."""
        ...

    def open_output(self, job_id: str, name: str) -> Iterator[bytes]:
        """The bytes of a listed output; ``ObjectNotFound`` when it is gone."""
        ...


class Logs(Protocol):
    def read_log(self, job: Job, max_bytes: int) -> bytes | None:
        """The last ``max_bytes`` of the job's log (live while it runs, saved once it ended),
        or None when it has none."""
        ...


@dataclass(frozen=True)
class Submission:
    """The job of a submission; ``created`` False when an identical request was deduplicated."""

    job: Job
    created: bool

    @property
    def deduplicated(self) -> bool:
        return not self.created


def known_id(job_id: str) -> str:
    """``job_id``, or :class:`JobNotFound` at once when no job could have it (ids are UUIDs)."""
    if not ID_PATTERN.fullmatch(job_id):
        raise JobNotFound(job_id)
    return job_id


def tail_lines(text: str, tail: int | None) -> str:
    """The last ``tail`` lines of ``text`` (all of it when ``tail`` is None).

    >>> tail_lines("a\\nb\\nc\\n", 2)
    'b\\nc\\n'
    >>> tail_lines("a\\nb", 0)
    ''
    """
    if tail is None:
        return text
    if tail <= 0:
        return ""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-tail:])


@dataclass
class JobService:
    store: JobStore
    registry: PipelineRegistry
    results: Results
    logs: Logs
    wakeups: Wakeups
    notify: NotifyBuilder | None = None
    dedup_window_s: float = 600.0
    clock: Callable[[], datetime] = utcnow

    # -- changes --------------------------------------------------------------------------------

    def submit(self, raw: bytes | str | Mapping[str, Any], *, caller: Caller) -> Submission:
        """Validate and store a job request of ``caller``'s tenant; wake the engines.

        An identical request (no ``client_id``) of the same tenant within the dedup window
        returns the existing job (``created`` False), as do concurrent copies; a ``client_id``
        the tenant used already raises :class:`DuplicateClientId` naming its job. A caller whose
        scopes do not cover the pipeline (or command) gets :class:`Forbidden`.
        """
        return self.submit_new(self.validate(raw, caller=caller))

    def submit_new(self, new: NewJob) -> Submission:
        """Store an already validated job (see :meth:`submit`)."""
        result = self.store.submit(
            new, now=self.clock(), dedup_window_s=self.dedup_window_s, notify=self.notify
        )
        if result.conflict == "client_id":
            raise DuplicateClientId(result.job)
        if result.created:
            log.info(
                "job.submitted job_id=%s pipeline=%s tenant=%s actor=%s",
                result.job.id,
                new.pipeline,
                new.tenant,
                new.actor,
            )
            self._wake(ADMISSION, OUTBOX)
        return Submission(result.job, created=result.created)

    def validate(self, raw: bytes | str | Mapping[str, Any], *, caller: Caller) -> NewJob:
        """The job a request of ``caller`` would create, validated (nothing is stored)."""
        return job_of_body(raw, self.registry, caller)

    def cancel(self, job_id: str, *, caller: Caller) -> Job:
        """Cancel a job: queued → cancelled at once; provisioning/running → cancelling, and an
        engine terminates it. Raises ``JobNotFound``, or :class:`NotCancellable` when it ended."""
        job = self._acted_on(job_id, caller)
        if job.terminal:
            raise NotCancellable(job.id, job.state.value)
        try:
            result = self.store.transition(
                job.id, JobEvent.CANCEL, now=self.clock(), notify=self.notify, actor=caller.actor
            )
        except InvalidTransition:  # it moved meanwhile
            job = self.store.get(job.id)
            if job.terminal:
                raise NotCancellable(job.id, job.state.value) from None
            return job
        log.info("job.%s job_id=%s actor=%s", result.job.state.value, job.id, caller.actor)
        self._wake(CANCEL, OUTBOX)
        return result.job

    def retry(self, job_id: str, *, caller: Caller) -> Job:
        """Queue a failed or cancelled job again: a new attempt of the same job (same id, same
        ``client_id``), with its own events. Raises ``JobNotFound`` or :class:`NotRetryable`."""
        job = self._acted_on(job_id, caller)
        if job.state not in RETRYABLE_STATES:
            raise NotRetryable(job.id, job.state.value)
        try:
            result = self.store.transition(
                job.id, JobEvent.RETRY, now=self.clock(), notify=self.notify, actor=caller.actor
            )
        except InvalidTransition:  # retried (or moved) meanwhile
            job = self.store.get(job.id)
            raise NotRetryable(job.id, job.state.value) from None
        log.info("job.retried job_id=%s actor=%s", job.id, caller.actor)
        self._wake(ADMISSION, OUTBOX)
        return result.job

    def _wake(self, *topics: str) -> None:
        for topic in topics:
            self.wakeups.notify(topic)

    # -- reads ----------------------------------------------------------------------------------

    def get(self, job_id: str, *, caller: Caller) -> Job:
        """The job, when ``caller`` sees its tenant; ``JobNotFound`` otherwise (the same answer
        as for a job that does not exist: another tenant's jobs are not told apart)."""
        job = self.store.get(known_id(job_id))
        if not caller.sees(job.tenant):
            raise JobNotFound(job_id)
        return job

    def _acted_on(self, job_id: str, caller: Caller) -> Job:
        """The job ``caller`` cancels or retries: seen, and of a pipeline its scopes cover."""
        job = self.get(job_id, caller=caller)
        if not caller.may_act_on(job.pipeline, job.spec.get("params")):
            raise Forbidden(f"the token's scopes do not cover this {job.pipeline!r} job")
        return job

    def list_jobs(
        self,
        *,
        caller: Caller,
        state: Iterable[JobState] | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        tenant: str | None = None,
    ) -> Page:
        """The jobs ``caller`` sees (its tenant's; admin: all, or ``tenant``'s), newest first,
        with a cursor for the next page (``InvalidCursor`` if bad). A caller asking for
        another tenant's jobs than it sees gets none."""
        if not caller.admin:
            if tenant not in (None, caller.tenant):
                return Page([])
            tenant = caller.tenant
        return self.store.list_jobs(
            state=None if state is None else list(state),
            pipeline=pipeline,
            limit=limit,
            cursor=cursor,
            tenant=tenant,
        )

    def events(self, job_id: str, *, caller: Caller) -> list[JobEventRecord]:
        """The job's audit trail, oldest first."""
        return self.store.events(self.get(job_id, caller=caller).id)

    def outputs(self, job_id: str, *, caller: Caller) -> list[OutputEntry]:
        """The files of the job's results, from its manifest."""
        job = self.get(job_id, caller=caller)
        return list(self._manifest(job).outputs)

    def open_output(
        self, job_id: str, name: str, *, caller: Caller
    ) -> tuple[OutputEntry, Iterator[bytes]]:
        """One listed output and its bytes in chunks; the download is an event row."""
        job = self.get(job_id, caller=caller)
        entry = self._manifest(job).entry(name)
        if entry is None:
            raise OutputMissing(f"job {job.id} has no output {name!r}")
        try:
            chunks = self.results.open_output(job.id, entry.name)
        except ObjectNotFound:
            raise OutputMissing(f"job {job.id} has no output {name!r}") from None
        self._audit(job, JobEvent.DOWNLOAD_OUTPUT, caller, {"name": entry.name})
        return entry, chunks

    def _audit(self, job: Job, event: JobEvent, caller: Caller, detail: dict[str, Any]) -> None:
        self.store.record_event(job.id, event, now=self.clock(), actor=caller.actor, detail=detail)
        log.info("job.%s job_id=%s actor=%s", event.value, job.id, caller.actor)

    def _manifest(self, job: Job) -> Manifest:
        try:
            return self.results.manifest(job.id)
        except ObjectNotFound:
            raise ResultsNotFound(f"job {job.id} has no results ({job.state.value})") from None

    def log(self, job_id: str, tail: int | None = None, *, caller: Caller) -> str:
        """The job's log text (only its last ``tail`` lines if given); the read is an event
        row."""
        job = self.get(job_id, caller=caller)
        data = self.logs.read_log(job, MAX_LOG_BYTES)
        if data is None:
            raise LogNotFound(f"job {job.id} has no logs")
        self._audit(job, JobEvent.DOWNLOAD_LOG, caller, {"tail": tail})
        return tail_lines(data.decode("utf-8", errors="replace"), tail)

    def follow_log(self, job_id: str, *, caller: Caller) -> Callable[[], tuple[Job, str | None]]:
        """A reader of the job's log as it grows (a live view): following is one event row,
        however often the reader is called; each call gives the job now and its log (None
        while it has none)."""
        job = self.get(job_id, caller=caller)
        self._audit(job, JobEvent.DOWNLOAD_LOG, caller, {"follow": True})

        def read() -> tuple[Job, str | None]:
            now = self.store.get(job.id)
            data = self.logs.read_log(now, MAX_LOG_BYTES)
            return now, None if data is None else data.decode("utf-8", errors="replace")

        return read

    def count_by_state(self, *, caller: Caller) -> dict[JobState, int]:
        """How many jobs ``caller`` sees are in each state."""
        tenant = None if caller.admin else caller.tenant
        return {s: self.store.count_in_states([s], tenant=tenant) for s in JobState}


class NoWakeups:
    """For a service without engines to wake (they poll)."""

    def notify(self, topic: str) -> None:
        del topic
