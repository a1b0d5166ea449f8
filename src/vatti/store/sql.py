"""The SQL job store (SQLite or PostgreSQL), built on SQLAlchemy Core.

Concurrency:
- ``submit`` relies on unique keys, never on read-then-write: ``INSERT ... ON CONFLICT`` on
  ``jobs (tenant, client_id)``, and an upsert of the ``dedup`` row (keyed by tenant and
  fingerprint) that only replaces an expired entry.
- ``transition`` locks the job row (``FOR UPDATE`` on PostgreSQL; SQLite write transactions are
  ``BEGIN IMMEDIATE``), checks the pure table, then updates with a compare-and-set on the observed
  state and event counter. Event and outbox rows commit in the same transaction.
- ``claim_queued`` (admission) counts the active jobs and reserves queued ones in one
  transaction that holds :data:`ADMISSION_LOCK` (a transaction-scoped advisory lock) on
  PostgreSQL, or the database's single write lock on SQLite, so two engines never count the same
  free slot; the queued rows are read ``FOR UPDATE SKIP LOCKED`` so a row another transaction is
  changing (a cancel) is passed over, not waited for.
- ``claim_outbox`` takes due messages with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and sets a
  lease, so replicas never deliver the same message concurrently.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from vatti.domain.access import DEFAULT_TENANT, ENGINE_ACTOR
from vatti.domain.errors import InvalidTransition
from vatti.domain.failure import Failure
from vatti.domain.fingerprint import dedup_key
from vatti.domain.ids import new_id
from vatti.domain.jobs import Job, JobEventRecord, OutboxMessage
from vatti.domain.states import RETRYABLE_STATES, JobEvent, JobState, apply
from vatti.errors import VattiError
from vatti.secretbox import SecretBox
from vatti.store import rows
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
from vatti.store.connect import create_db_engine, writing
from vatti.store.errors import JobNotFound, StaleTransition, StoreError, StoreUnavailable
from vatti.store.migrate import current_revision, head_revision
from vatti.store.schema import dedup, job_events, jobs, leases, outbox
from vatti.store.updates import audit_record, event_detail, new_job, transition_fields

#: The key of the advisory lock that serialises admission across engines (PostgreSQL): a count
#: and a claim under a lock cannot be raced, where SKIP LOCKED alone would let two engines each
#: see the same free slot. Transaction-scoped, so it goes with the transaction, or with the
#: connection of an engine killed meanwhile; there is no slot state to repair.
ADMISSION_LOCK = 0x76617474_69000001

UNFINISHED_STATES = (JobState.QUEUED, *sorted(ACTIVE_STATES))

Insert = postgresql.Insert | sqlite.Insert


def _states(states: JobState | Iterable[JobState]) -> list[str]:
    if isinstance(states, JobState):
        return [states.value]
    return [JobState(s).value for s in states]


class SqlJobStore:
    """A :class:`~vatti.store.base.JobStore` on a SQLAlchemy engine (see the module docstring)."""

    def __init__(self, engine: sa.Engine, *, secrets: SecretBox | None = None) -> None:
        self.engine = engine
        #: seals a job's webhook URL at rest (see :mod:`vatti.secretbox`); None keeps it clear,
        #: for tests of the store alone
        self._secrets = secrets
        self._pg = engine.dialect.name == "postgresql"
        #: SQLite has one writer at a time, and a writer that finds the database locked waits in
        #: sleeps that grow to 100 ms; the writers of this process queue here instead, and are
        #: woken as soon as the one before them commits (other processes still use the timeout)
        self._writers: AbstractContextManager[object] = (
            contextlib.nullcontext() if self._pg else threading.RLock()
        )

    def close(self) -> None:
        self.engine.dispose()

    def reseal_secrets(self) -> int:
        """Seal every secret value again with the newest key (clear legacy ones too); returns
        how many were rewritten. Run after adding a key, before removing an old one."""
        if self._secrets is None:
            raise StoreError("no service key: nothing to seal with")
        count = 0
        with self._tx(write=True) as conn:
            query = sa.select(jobs.c.id, jobs.c.webhook_url).where(jobs.c.webhook_url.is_not(None))
            for job_id, value in conn.execute(query).all():
                sealed = self._secrets.reseal(value)
                conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(webhook_url=sealed))
                count += 1
        return count

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[sa.Connection]:
        try:
            with (
                self._writers if write else contextlib.nullcontext(),
                self.engine.connect() as conn,
            ):
                if write:
                    writing(conn)
                with conn.begin():
                    yield conn
        except VattiError:
            raise
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise StoreUnavailable(f"job store unavailable: {type(exc).__name__}: {exc}") from exc
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailable(f"job store connection lost: {exc}") from exc
            raise StoreError(f"job store: {type(exc).__name__}: {exc}") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"job store: {type(exc).__name__}: {exc}") from exc

    def _job(self, row: sa.RowMapping) -> Job:
        job = rows.job_from_row(row)
        if job.webhook_url is None or self._secrets is None:
            return job
        return replace(job, webhook_url=self._secrets.open(job.webhook_url))

    def _sealed(self, value: str | None) -> str | None:
        if value is None or self._secrets is None:
            return value
        return self._secrets.seal(value)

    def _insert(self, table: sa.Table) -> Insert:
        return postgresql.insert(table) if self._pg else sqlite.insert(table)

    @staticmethod
    def _load(conn: sa.Connection, job_id: str, *, lock: bool = False) -> sa.RowMapping:
        query = sa.select(jobs).where(jobs.c.id == job_id)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise JobNotFound(job_id)
        return row

    @staticmethod
    def _write_events(
        conn: sa.Connection,
        job: Job,
        records: Sequence[JobEventRecord],
        notify: NotifyBuilder | None,
        now: datetime,
    ) -> None:
        conn.execute(sa.insert(job_events), [rows.event_columns(r) for r in records])
        if notify is None:
            return
        messages = [
            {
                "job_id": job.id,
                "event_id": record.id,
                "channel": n.channel,
                "destination": n.destination,
                "payload": n.payload,
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
            for record in records
            for n in notify(job, record)
        ]
        if messages:
            conn.execute(sa.insert(outbox), messages)

    # -- jobs -----------------------------------------------------------------------------------

    def submit(
        self,
        new: NewJob,
        *,
        now: datetime,
        dedup_window_s: float,
        notify: NotifyBuilder | None = None,
    ) -> SubmitResult:
        job, records = new_job(new, now)
        columns = self._job_columns(job, event_seq=len(records))
        with self._tx(write=True) as conn:
            if new.client_id is not None:
                insert = self._insert(jobs).values(columns)
                claimed = conn.execute(
                    insert.on_conflict_do_nothing(index_elements=["tenant", "client_id"]).returning(
                        jobs.c.id
                    )
                ).first()
                if claimed is None:
                    row = (
                        conn.execute(
                            sa.select(jobs).where(
                                jobs.c.tenant == new.tenant, jobs.c.client_id == new.client_id
                            )
                        )
                        .mappings()
                        .one()
                    )
                    return SubmitResult(self._job(row), created=False, conflict="client_id")
            else:
                if dedup_window_s > 0:
                    existing = self._claim_fingerprint(conn, job, now, dedup_window_s)
                    if existing is not None:
                        return SubmitResult(existing, created=False, conflict="fingerprint")
                conn.execute(sa.insert(jobs).values(columns))
            self._write_events(conn, job, records, notify, now)
        return SubmitResult(job, created=True)

    def _claim_fingerprint(
        self, conn: sa.Connection, job: Job, now: datetime, window_s: float
    ) -> Job | None:
        """Own ``job.fingerprint`` (for its tenant) for the window, or return the live job that
        owns it."""
        key = dedup_key(job.tenant, job.fingerprint)
        insert = self._insert(dedup).values(
            fingerprint=key,
            job_id=job.id,
            expires_at=now + timedelta(seconds=window_s),
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={"job_id": insert.excluded.job_id, "expires_at": insert.excluded.expires_at},
            where=dedup.c.expires_at <= now,
        ).returning(dedup.c.job_id)
        if conn.execute(upsert).first() is not None:
            return None
        owner = conn.execute(
            sa.select(dedup.c.job_id).where(dedup.c.fingerprint == key)
        ).scalar_one()
        existing = self._job(self._load(conn, owner))
        if existing.state not in RETRYABLE_STATES:
            return existing
        # the earlier run failed or was cancelled: this request runs again. The compare-and-set
        # on the owner lets one of several concurrent retries take the fingerprint over.
        taken = conn.execute(
            sa.update(dedup)
            .where(dedup.c.fingerprint == key, dedup.c.job_id == owner)
            .values(job_id=job.id, expires_at=now + timedelta(seconds=window_s))
        )
        if taken.rowcount == 1:
            return None
        return self._claim_fingerprint(conn, job, now, window_s)

    def _job_columns(self, job: Job, *, event_seq: int) -> dict[str, Any]:
        return {
            "id": job.id,
            "client_id": job.client_id,
            "fingerprint": job.fingerprint,
            "pipeline": job.pipeline,
            "spec": job.spec,
            "state": job.state.value,
            "event_seq": event_seq,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "queued_at": job.queued_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "attempt": job.attempt,
            "executor": job.executor,
            "executor_handle": job.executor_handle,
            **rows.failure_columns(job.failure),
            "webhook_url": self._sealed(job.webhook_url),
            "results_expire_at": job.results_expire_at,
            "results_deleted_at": job.results_deleted_at,
            "tenant": job.tenant,
        }

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
        with self._tx(write=True) as conn:
            row = self._load(conn, job_id, lock=True)
            job = self._job(row)
            try:
                step = apply(job.state, event)
            except InvalidTransition:
                raise InvalidTransition(job.state, event, job_id) from None
            fields = transition_fields(job, step, event, now, changes)
            seq = row["event_seq"] + 1
            values = {k: v for k, v in fields.items() if k != "failure"}
            values["state"] = step.new_state.value
            if "failure" in fields:
                values.update(rows.failure_columns(fields["failure"]))
            updated = conn.execute(
                sa.update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.state == job.state.value,
                    jobs.c.event_seq == row["event_seq"],
                )
                .values(event_seq=seq, **values)
            )
            if updated.rowcount != 1:
                raise StaleTransition(job.state, event, job_id)
            after = replace(job, **fields)
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
            self._write_events(conn, after, [record], notify, now)
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
        with self._tx(write=True) as conn:
            row = self._load(conn, job_id, lock=True)
            seq = row["event_seq"] + 1
            record = audit_record(self._job(row), seq, event, now, actor, detail or {})
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(event_seq=seq))
            conn.execute(sa.insert(job_events).values(rows.event_columns(record)))
        return record

    def schema_at_head(self) -> bool:
        with self._tx(write=False) as conn:
            return current_revision(conn) == head_revision()

    def get(self, job_id: str) -> Job:
        with self._tx(write=False) as conn:
            return self._job(self._load(conn, job_id))

    def get_by_client_id(self, client_id: str, tenant: str = DEFAULT_TENANT) -> Job | None:
        with self._tx(write=False) as conn:
            row = (
                conn.execute(
                    sa.select(jobs).where(jobs.c.tenant == tenant, jobs.c.client_id == client_id)
                )
                .mappings()
                .first()
            )
        return self._job(row) if row is not None else None

    def _select_jobs(self, query: sa.Select[Any]) -> list[Job]:
        with self._tx(write=False) as conn:
            return [self._job(r) for r in conn.execute(query).mappings()]

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
        query = sa.select(jobs)
        if tenant is not None:
            query = query.where(jobs.c.tenant == tenant)
        if state is not None:
            query = query.where(jobs.c.state.in_(_states(state)))
        if pipeline is not None:
            query = query.where(jobs.c.pipeline == pipeline)
        if cursor is not None:
            at, last_id = decode_cursor(cursor)
            query = query.where(
                sa.or_(
                    jobs.c.created_at < at,
                    sa.and_(jobs.c.created_at == at, jobs.c.id < last_id),
                )
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit + 1)
        found = self._select_jobs(query)
        if len(found) <= limit:
            return Page(found)
        items = found[:limit]
        return Page(items, encode_cursor(items[-1].created_at, items[-1].id))

    def events(self, job_id: str) -> list[JobEventRecord]:
        with self._tx(write=False) as conn:
            self._load(conn, job_id)
            result = conn.execute(
                sa.select(job_events)
                .where(job_events.c.job_id == job_id)
                .order_by(job_events.c.seq)
            ).mappings()
            return [rows.event_from_row(r) for r in result]

    def jobs_in_states(
        self, states: Iterable[JobState], limit: int = 1000, *, owner: str | None = None
    ) -> list[Job]:
        query = sa.select(jobs).where(jobs.c.state.in_(_states(states)))
        if owner is not None:
            query = query.where(sa.or_(jobs.c.owner == owner, jobs.c.owner.is_(None)))
        return self._select_jobs(query.order_by(jobs.c.created_at, jobs.c.id).limit(limit))

    # -- ownership ------------------------------------------------------------------------------

    def claim_queued(
        self, holder: str, *, max_active: int, ttl_s: float, now: datetime
    ) -> list[Job]:
        queued = jobs.c.state == JobState.QUEUED.value
        held_by_others = sa.and_(
            queued, jobs.c.owner.is_not(None), jobs.c.owner != holder, jobs.c.owner_expires_at > now
        )
        taken = sa.select(sa.func.count()).where(
            sa.or_(jobs.c.state.in_(_states(ACTIVE_STATES)), held_by_others)
        )
        free = (
            sa.select(jobs)
            .where(
                queued,
                sa.or_(
                    jobs.c.owner.is_(None), jobs.c.owner == holder, jobs.c.owner_expires_at <= now
                ),
            )
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        with self._tx(write=True) as conn:
            if self._pg:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ADMISSION_LOCK)))
            slots = max_active - int(conn.execute(taken).scalar_one())
            if slots <= 0:
                return []
            query = free.limit(slots)
            if self._pg:
                query = query.with_for_update(skip_locked=True)
            found = [self._job(r) for r in conn.execute(query).mappings()]
            if found:
                conn.execute(
                    sa.update(jobs)
                    .where(jobs.c.id.in_([j.id for j in found]))
                    .values(owner=holder, owner_expires_at=now + timedelta(seconds=ttl_s))
                )
        return found

    def renew_ownership(self, holder: str, *, ttl_s: float, now: datetime) -> int:
        with self._tx(write=True) as conn:
            return conn.execute(
                sa.update(jobs)
                .where(jobs.c.owner == holder, jobs.c.state.in_(_states(UNFINISHED_STATES)))
                .values(owner_expires_at=now + timedelta(seconds=ttl_s))
            ).rowcount

    def adopt_jobs(
        self,
        holder: str,
        *,
        ttl_s: float,
        now: datetime,
        dead_owners: Iterable[str] = (),
    ) -> list[str]:
        lapsed = [jobs.c.owner.is_(None), jobs.c.owner_expires_at <= now]
        dead = sorted(set(dead_owners) - {holder})
        if dead:
            lapsed.append(jobs.c.owner.in_(dead))
        orphans = sa.select(jobs.c.id).where(
            jobs.c.state.in_(_states(ACTIVE_STATES)),
            sa.or_(jobs.c.owner.is_(None), jobs.c.owner != holder),
            sa.or_(*lapsed),
        )
        if self._pg:
            orphans = orphans.with_for_update(skip_locked=True)
        with self._tx(write=True) as conn:
            ids = [str(i) for i in conn.execute(orphans).scalars()]
            if ids:
                conn.execute(
                    sa.update(jobs)
                    .where(jobs.c.id.in_(ids))
                    .values(owner=holder, owner_expires_at=now + timedelta(seconds=ttl_s))
                )
        return ids

    def job_owners(self) -> set[str]:
        query = (
            sa.select(jobs.c.owner)
            .where(jobs.c.owner.is_not(None), jobs.c.state.in_(_states(UNFINISHED_STATES)))
            .distinct()
        )
        with self._tx(write=False) as conn:
            return {str(o) for o in conn.execute(query).scalars()}

    def release_ownership(self, holder: str, *, now: datetime) -> int:
        with self._tx(write=True) as conn:
            return conn.execute(
                sa.update(jobs)
                .where(jobs.c.owner == holder, jobs.c.state.in_(_states(UNFINISHED_STATES)))
                .values(owner_expires_at=now)
            ).rowcount

    def next_queued(self, limit: int) -> list[Job]:
        return self.jobs_in_states([JobState.QUEUED], limit)

    def count_in_states(self, states: Iterable[JobState], *, tenant: str | None = None) -> int:
        with self._tx(write=False) as conn:
            query = sa.select(sa.func.count()).where(jobs.c.state.in_(_states(states)))
            if tenant is not None:
                query = query.where(jobs.c.tenant == tenant)
            return int(conn.execute(query).scalar_one())

    def _update_job(self, job_id: str, values: dict[str, Any]) -> Job:
        with self._tx(write=True) as conn:
            result = conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(values))
            if result.rowcount != 1:
                raise JobNotFound(job_id)
            return self._job(self._load(conn, job_id))

    def set_handle(self, job_id: str, executor: str, handle: str, *, now: datetime) -> Job:
        return self._update_job(
            job_id, {"executor": executor, "executor_handle": handle, "updated_at": now}
        )

    def set_failure(self, job_id: str, failure: Failure, *, now: datetime) -> Job:
        """Record or refine a job's failure without a state change."""
        return self._update_job(job_id, {**rows.failure_columns(failure), "updated_at": now})

    def set_results_expiry(self, job_id: str, at: datetime | None, *, now: datetime) -> Job:
        return self._update_job(job_id, {"results_expire_at": at, "updated_at": now})

    def expired_results(self, now: datetime, limit: int = 100) -> list[Job]:
        return self._select_jobs(
            sa.select(jobs)
            .where(jobs.c.results_expire_at <= now, jobs.c.results_deleted_at.is_(None))
            .order_by(jobs.c.results_expire_at, jobs.c.id)
            .limit(limit)
        )

    def mark_results_deleted(self, job_id: str, *, now: datetime) -> None:
        self._update_job(job_id, {"results_deleted_at": now, "updated_at": now})

    def prune_dedup(self, now: datetime) -> int:
        """Delete expired fingerprint entries; returns how many."""
        with self._tx(write=True) as conn:
            return conn.execute(sa.delete(dedup).where(dedup.c.expires_at <= now)).rowcount

    # -- outbox ---------------------------------------------------------------------------------

    def claim_outbox(self, now: datetime, limit: int, lease_s: float) -> list[OutboxMessage]:
        older = outbox.alias("older")
        older_pending = (
            sa.select(older.c.id)
            .where(
                older.c.job_id == outbox.c.job_id,
                older.c.channel == outbox.c.channel,
                older.c.destination == outbox.c.destination,
                older.c.id < outbox.c.id,
                older.c.delivered_at.is_(None),
                older.c.dead_at.is_(None),
            )
            .exists()
        )
        query = (
            sa.select(outbox)
            .where(
                outbox.c.delivered_at.is_(None),
                outbox.c.dead_at.is_(None),
                outbox.c.next_attempt_at <= now,
                sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
                ~older_pending,
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if self._pg:
            query = query.with_for_update(skip_locked=True, of=outbox)
        with self._tx(write=True) as conn:
            claimed = [rows.message_from_row(r) for r in conn.execute(query).mappings()]
            if claimed:
                conn.execute(
                    sa.update(outbox)
                    .where(outbox.c.id.in_([m.id for m in claimed]))
                    .values(lease_until=now + timedelta(seconds=lease_s))
                )
        return claimed

    def _update_message(self, msg_id: int, values: dict[str, Any]) -> None:
        with self._tx(write=True) as conn:
            conn.execute(
                sa.update(outbox).where(outbox.c.id == msg_id).values(lease_until=None, **values)
            )

    def mark_delivered(self, msg_id: int, now: datetime) -> None:
        self._update_message(msg_id, {"delivered_at": now, "attempts": outbox.c.attempts + 1})

    def mark_failed(self, msg_id: int, error: str, next_attempt_at: datetime) -> None:
        self._update_message(
            msg_id,
            {
                "attempts": outbox.c.attempts + 1,
                "last_error": error,
                "next_attempt_at": next_attempt_at,
            },
        )

    def mark_dead(self, msg_id: int, error: str, now: datetime) -> None:
        self._update_message(
            msg_id, {"attempts": outbox.c.attempts + 1, "last_error": error, "dead_at": now}
        )

    def outbox_for(self, job_id: str) -> list[OutboxMessage]:
        with self._tx(write=False) as conn:
            result = conn.execute(
                sa.select(outbox).where(outbox.c.job_id == job_id).order_by(outbox.c.id)
            ).mappings()
            return [rows.message_from_row(r) for r in result]

    # -- leases ---------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl_s: float, now: datetime) -> bool:
        insert = self._insert(leases).values(
            name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_s)
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
            where=sa.or_(leases.c.holder == holder, leases.c.expires_at <= now),
        ).returning(leases.c.name)
        with self._tx(write=True) as conn:
            return conn.execute(upsert).first() is not None

    def lease_holders(self) -> dict[str, str]:
        with self._tx(write=False) as conn:
            rows_ = conn.execute(sa.select(leases.c.name, leases.c.holder)).all()
        return {str(name): str(holder) for name, holder in rows_}

    def release_lease(self, name: str, holder: str) -> None:
        with self._tx(write=True) as conn:
            conn.execute(sa.delete(leases).where(leases.c.name == name, leases.c.holder == holder))


def open_store(
    database_url: str, *, secrets: SecretBox | None = None, **engine_kwargs: Any
) -> SqlJobStore:
    """A store on ``database_url`` (run :func:`vatti.store.migrate.migrate` first); ``secrets``
    seals what the database holds secret."""
    return SqlJobStore(create_db_engine(database_url, **engine_kwargs), secrets=secrets)
