"""An in-memory :class:`~vatti.store.base.JobStore` for unit tests of the engine and the API.

Thread-safe (one lock around every call) and held to the same contract tests as the SQL store.
Not for production: nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from vatti.domain.access import DEFAULT_TENANT, ENGINE_ACTOR
from vatti.domain.errors import InvalidTransition
from vatti.domain.failure import Failure
from vatti.domain.fingerprint import dedup_key
from vatti.domain.ids import new_id
from vatti.domain.jobs import Job, JobEventRecord, OutboxMessage
from vatti.domain.states import RETRYABLE_STATES, JobEvent, JobState, apply
from vatti.domain.times import as_utc
from vatti.store.base import (
    ACTIVE_STATES,
    MAX_PAGE,
    Changes,
    NewJob,
    NotifyBuilder,
    Page,
    SubmitResult,
    TransitionResult,
    decode_cursor,
    encode_cursor,
)
from vatti.store.errors import JobNotFound
from vatti.store.updates import audit_record, event_detail, new_job, transition_fields


@dataclass
class _Message:
    message: OutboxMessage
    lease_until: datetime | None = None


def _state_set(states: JobState | Iterable[JobState]) -> set[JobState]:
    return {states} if isinstance(states, JobState) else {JobState(s) for s in states}


class MemoryJobStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._by_client: dict[tuple[str, str], str] = {}  # (tenant, client id) -> job id
        self._dedup: dict[str, tuple[str, datetime]] = {}
        self._events: dict[str, list[JobEventRecord]] = {}
        self._outbox: dict[int, _Message] = {}
        self._next_msg = 1
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._owners: dict[str, tuple[str, datetime]] = {}  # job id -> (owner, lease until)

    def close(self) -> None:
        """Nothing to release; present for symmetry with the SQL store."""

    def _job(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFound(job_id) from None

    def _messages(
        self, job: Job, records: list[JobEventRecord], notify: NotifyBuilder | None, now: datetime
    ) -> list[_Message]:
        if notify is None:
            return []
        out: list[_Message] = []
        for record in records:
            for n in notify(job, record):
                message = OutboxMessage(
                    id=self._next_msg + len(out),
                    job_id=job.id,
                    event_id=record.id,
                    channel=n.channel,
                    destination=n.destination,
                    payload=n.payload,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
                out.append(_Message(message))
        return out

    def _commit(self, job: Job, records: list[JobEventRecord], messages: list[_Message]) -> None:
        self._jobs[job.id] = job
        self._events.setdefault(job.id, []).extend(records)
        for m in messages:
            self._outbox[m.message.id] = m
        self._next_msg += len(messages)

    def submit(
        self,
        new: NewJob,
        *,
        now: datetime,
        dedup_window_s: float,
        notify: NotifyBuilder | None = None,
    ) -> SubmitResult:
        with self._lock:
            client = (new.tenant, new.client_id) if new.client_id is not None else None
            key = dedup_key(new.tenant, new.fingerprint)
            if client is not None and client in self._by_client:
                existing = self._jobs[self._by_client[client]]
                return SubmitResult(existing, created=False, conflict="client_id")
            if new.client_id is None and dedup_window_s > 0:
                owner = self._dedup.get(key)
                if owner is not None and owner[1] > now:
                    existing = self._jobs[owner[0]]
                    if existing.state not in RETRYABLE_STATES:
                        return SubmitResult(existing, created=False, conflict="fingerprint")
            job, records = new_job(new, now)
            messages = self._messages(job, records, notify, now)  # may raise: nothing written yet
            if client is not None:
                self._by_client[client] = job.id
            elif dedup_window_s > 0:
                self._dedup[key] = (job.id, now + timedelta(seconds=dedup_window_s))
            self._commit(job, records, messages)
            return SubmitResult(job, created=True)

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
        changes = changes or Changes()
        with self._lock:
            job = self._job(job_id)
            try:
                step = apply(job.state, event)
            except InvalidTransition:
                raise InvalidTransition(job.state, event, job_id) from None
            after = replace(job, **transition_fields(job, step, event, now, changes))
            seq = len(self._events[job_id]) + 1
            record = JobEventRecord(
                new_id(now),
                job_id,
                seq,
                job.state,
                step.new_state,
                event,
                now,
                event_detail(changes),
                actor,
            )
            messages = self._messages(after, [record], notify, now)
            self._commit(after, [record], messages)
            return TransitionResult(after, record, step.effects)

    def record_event(
        self,
        job_id: str,
        event: JobEvent,
        *,
        now: datetime,
        actor: str,
        detail: dict[str, Any] | None = None,
    ) -> JobEventRecord:
        with self._lock:
            job = self._job(job_id)
            seq = len(self._events[job_id]) + 1
            record = audit_record(job, seq, event, now, actor, detail or {})
            self._events[job_id].append(record)
            return record

    def schema_at_head(self) -> bool:
        return True  # no schema to migrate

    def get(self, job_id: str) -> Job:
        with self._lock:
            return self._job(job_id)

    def get_by_client_id(self, client_id: str, tenant: str = DEFAULT_TENANT) -> Job | None:
        with self._lock:
            job_id = self._by_client.get((tenant, client_id))
            return self._jobs[job_id] if job_id is not None else None

    def list_jobs(
        self,
        *,
        state: JobState | Iterable[JobState] | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        tenant: str | None = None,
    ) -> Page:
        limit = max(1, min(limit, MAX_PAGE))
        wanted = _state_set(state) if state is not None else None
        after = decode_cursor(cursor) if cursor is not None else None
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if (wanted is None or j.state in wanted)
                and (pipeline is None or j.pipeline == pipeline)
                and (tenant is None or j.tenant == tenant)
                and (after is None or (j.created_at, j.id) < after)
            ]
        found.sort(key=lambda j: (j.created_at, j.id), reverse=True)
        if len(found) <= limit:
            return Page(found)
        items = found[:limit]
        return Page(items, encode_cursor(items[-1].created_at, items[-1].id))

    def events(self, job_id: str) -> list[JobEventRecord]:
        with self._lock:
            self._job(job_id)
            return list(self._events[job_id])

    def jobs_in_states(
        self, states: Iterable[JobState], limit: int = 1000, *, owner: str | None = None
    ) -> list[Job]:
        wanted = _state_set(states)
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if j.state in wanted
                and (owner is None or self._owners.get(j.id, (owner,))[0] == owner)
            ]
        return sorted(found, key=lambda j: (j.created_at, j.id))[:limit]

    # -- ownership ------------------------------------------------------------------------------

    def _unfinished_of(self, holder: str) -> list[str]:
        return [
            job_id
            for job_id, (owner, _) in self._owners.items()
            if owner == holder and not self._jobs[job_id].terminal
        ]

    def claim_queued(
        self, holder: str, *, max_active: int, ttl_s: float, now: datetime
    ) -> list[Job]:
        now = as_utc(now)
        until = now + timedelta(seconds=ttl_s)

        def held_by_other(job: Job) -> bool:
            owner, expires = self._owners.get(job.id, (holder, now))
            return owner != holder and expires > now

        with self._lock:
            queued = sorted(
                (j for j in self._jobs.values() if j.state is JobState.QUEUED),
                key=lambda j: (j.created_at, j.id),
            )
            active = sum(1 for j in self._jobs.values() if j.state in ACTIVE_STATES)
            taken = active + sum(1 for j in queued if held_by_other(j))
            found = [j for j in queued if not held_by_other(j)][: max(0, max_active - taken)]
            for job in found:
                self._owners[job.id] = (holder, until)
        return found

    def renew_ownership(self, holder: str, *, ttl_s: float, now: datetime) -> int:
        until = as_utc(now) + timedelta(seconds=ttl_s)
        with self._lock:
            mine = self._unfinished_of(holder)
            for job_id in mine:
                self._owners[job_id] = (holder, until)
        return len(mine)

    def adopt_jobs(
        self,
        holder: str,
        *,
        ttl_s: float,
        now: datetime,
        dead_owners: Iterable[str] = (),
    ) -> list[str]:
        now = as_utc(now)
        dead = set(dead_owners) - {holder}
        with self._lock:
            ids = []
            for job in sorted(self._jobs.values(), key=lambda j: (j.created_at, j.id)):
                if job.state not in ACTIVE_STATES:
                    continue
                owner, expires = self._owners.get(job.id, ("", now))
                if owner != holder and (owner in dead or expires <= now):
                    self._owners[job.id] = (holder, now + timedelta(seconds=ttl_s))
                    ids.append(job.id)
        return ids

    def job_owners(self) -> set[str]:
        with self._lock:
            return {o for job_id, (o, _) in self._owners.items() if not self._jobs[job_id].terminal}

    def release_ownership(self, holder: str, *, now: datetime) -> int:
        with self._lock:
            mine = self._unfinished_of(holder)
            for job_id in mine:
                self._owners[job_id] = (holder, as_utc(now))
        return len(mine)

    def next_queued(self, limit: int) -> list[Job]:
        return self.jobs_in_states([JobState.QUEUED], limit)

    def count_in_states(self, states: Iterable[JobState], *, tenant: str | None = None) -> int:
        wanted = _state_set(states)
        with self._lock:
            return sum(
                1 for j in self._jobs.values() if j.state in wanted and tenant in (None, j.tenant)
            )

    def _update(self, job_id: str, **fields: object) -> Job:
        fields = {k: as_utc(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        with self._lock:
            job = replace(self._job(job_id), **fields)  # type: ignore[arg-type]
            self._jobs[job_id] = job
            return job

    def set_handle(self, job_id: str, executor: str, handle: str, *, now: datetime) -> Job:
        return self._update(job_id, executor=executor, executor_handle=handle, updated_at=now)

    def set_failure(self, job_id: str, failure: Failure, *, now: datetime) -> Job:
        return self._update(job_id, failure=failure, updated_at=now)

    def set_results_expiry(self, job_id: str, at: datetime | None, *, now: datetime) -> Job:
        return self._update(job_id, results_expire_at=at, updated_at=now)

    def expired_results(self, now: datetime, limit: int = 100) -> list[Job]:
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if j.results_expire_at is not None
                and j.results_expire_at <= now
                and j.results_deleted_at is None
            ]
        return sorted(found, key=lambda j: (j.results_expire_at, j.id))[:limit]

    def mark_results_deleted(self, job_id: str, *, now: datetime) -> None:
        self._update(job_id, results_deleted_at=now, updated_at=now)

    def prune_dedup(self, now: datetime) -> int:
        with self._lock:
            expired = [fp for fp, (_, until) in self._dedup.items() if until <= now]
            for fp in expired:
                del self._dedup[fp]
            return len(expired)

    def claim_outbox(self, now: datetime, limit: int, lease_s: float) -> list[OutboxMessage]:
        with self._lock:
            blocked: set[tuple[str, str, str]] = set()
            claimed: list[OutboxMessage] = []
            for msg_id in sorted(self._outbox):
                entry = self._outbox[msg_id]
                m = entry.message
                if m.delivered_at is not None or m.dead_at is not None:
                    continue
                stream = (m.job_id, m.channel, m.destination)
                if stream in blocked:
                    continue
                blocked.add(stream)
                leased = entry.lease_until is not None and entry.lease_until > now
                if m.next_attempt_at <= now and not leased and len(claimed) < limit:
                    entry.lease_until = now + timedelta(seconds=lease_s)
                    claimed.append(m)
            return claimed

    def _settle(self, msg_id: int, **fields: object) -> None:
        with self._lock:
            fields = {k: as_utc(v) if isinstance(v, datetime) else v for k, v in fields.items()}
            entry = self._outbox[msg_id]
            m = entry.message
            entry.message = replace(m, attempts=m.attempts + 1, **fields)  # type: ignore[arg-type]
            entry.lease_until = None

    def mark_delivered(self, msg_id: int, now: datetime) -> None:
        self._settle(msg_id, delivered_at=now)

    def mark_failed(self, msg_id: int, error: str, next_attempt_at: datetime) -> None:
        self._settle(msg_id, last_error=error, next_attempt_at=next_attempt_at)

    def mark_dead(self, msg_id: int, error: str, now: datetime) -> None:
        self._settle(msg_id, last_error=error, dead_at=now)

    def outbox_for(self, job_id: str) -> list[OutboxMessage]:
        with self._lock:
            return [
                self._outbox[i].message
                for i in sorted(self._outbox)
                if self._outbox[i].message.job_id == job_id
            ]

    def acquire_lease(self, name: str, holder: str, ttl_s: float, now: datetime) -> bool:
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current[0] != holder and current[1] > now:
                return False
            self._leases[name] = (holder, now + timedelta(seconds=ttl_s))
            return True

    def lease_holders(self) -> dict[str, str]:
        with self._lock:
            return {name: holder for name, (holder, _) in self._leases.items()}

    def release_lease(self, name: str, holder: str) -> None:
        with self._lock:
            if self._leases.get(name, ("", None))[0] == holder:
                del self._leases[name]
