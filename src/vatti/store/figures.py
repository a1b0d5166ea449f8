"""The store's figures for ``/metrics`` and the dashboard's summary, in SQL (one query each).

:class:`vatti.store.sql.SqlJobStore` answers its figure methods with these functions; the
in-memory store computes the same from its records (:func:`ended_job`, :func:`backlog_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from vatti.domain.jobs import Job, JobEventRecord, OutboxMessage
from vatti.domain.states import TERMINAL_STATES, JobState
from vatti.store.base import Delivery, EndedJob, OutboxBacklog
from vatti.store.schema import JSONText, UTCDateTime, job_events, jobs, outbox

_TERMINAL = sorted(s.value for s in TERMINAL_STATES)


def job_counts_by_state_and_pipeline(conn: sa.Connection) -> dict[tuple[JobState, str], int]:
    query = sa.select(jobs.c.state, jobs.c.pipeline, sa.func.count()).group_by(
        jobs.c.state, jobs.c.pipeline
    )
    return {(JobState(s), p): int(n) for s, p, n in conn.execute(query)}


def outbox_backlog(conn: sa.Connection) -> list[OutboxBacklog]:
    pending = sa.and_(outbox.c.delivered_at.is_(None), outbox.c.dead_at.is_(None))

    def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    oldest = sa.type_coerce(
        sa.func.min(sa.case((pending, outbox.c.created_at), else_=None)), UTCDateTime()
    )
    query = (
        sa.select(
            outbox.c.channel,
            count(pending),
            count(outbox.c.delivered_at.is_not(None)),
            count(outbox.c.dead_at.is_not(None)),
            sa.func.coalesce(sa.func.sum(outbox.c.attempts), 0),
            oldest,
            count(sa.and_(pending, outbox.c.attempts > 0)),
        )
        .group_by(outbox.c.channel)
        .order_by(outbox.c.channel)
    )
    return [
        OutboxBacklog(channel, int(p), int(d), int(dead), int(attempts), at, int(retrying))
        for channel, p, d, dead, attempts, at, retrying in conn.execute(query)
    ]


def _window(column: sa.ColumnElement[Any], since: datetime, until: datetime | None) -> Any:
    condition = column >= since
    return condition if until is None else sa.and_(condition, column < until)


def jobs_ended_between(
    conn: sa.Connection, since: datetime, until: datetime | None
) -> list[EndedJob]:
    """Two queries, joined here: the jobs, then their admission and success events (a hash
    join, where a subquery per job would cost an index probe each)."""
    ended = sa.and_(jobs.c.state.in_(_TERMINAL), _window(jobs.c.finished_at, since, until))
    found = conn.execute(
        sa.select(
            jobs.c.id,
            jobs.c.pipeline,
            jobs.c.state,
            jobs.c.created_at,
            jobs.c.finished_at,
            jobs.c.executor,
            jobs.c.failure_code,
            jobs.c.queued_at,
            jobs.c.started_at,
        )
        .where(ended)
        .order_by(jobs.c.finished_at)
    ).all()
    if not found:
        return []
    admitted: dict[str, datetime] = {}
    summaries: dict[str, dict[str, Any]] = {}
    changes = sa.or_(
        job_events.c.from_state.is_(None), job_events.c.from_state != job_events.c.to_state
    )
    events = conn.execute(
        sa.select(
            job_events.c.job_id,
            job_events.c.to_state,
            job_events.c.at,
            # the detail of success events only: an admission's is not decoded for nothing
            sa.type_coerce(
                sa.case(
                    (job_events.c.to_state == JobState.SUCCEEDED.value, job_events.c.detail),
                    else_=None,
                ),
                JSONText(),
            ),
        )
        .join(jobs, jobs.c.id == job_events.c.job_id)
        .where(
            ended,
            changes,
            job_events.c.to_state.in_([JobState.PROVISIONING.value, JobState.SUCCEEDED.value]),
        )
    )
    for job_id, to_state, at, detail in events:
        if to_state == JobState.PROVISIONING.value:
            admitted[job_id] = max(at, admitted.get(job_id, at))
        else:
            summaries[job_id] = dict((detail or {}).get("summary") or {})
    return [
        EndedJob(
            pipeline=row.pipeline,
            state=JobState(row.state),
            created_at=row.created_at,
            finished_at=row.finished_at,
            executor=row.executor,
            failure_code=row.failure_code,
            queued_at=row.queued_at,
            admitted_at=admitted.get(row.id),
            started_at=row.started_at,
            summary=summaries.get(row.id, {}) if row.state == JobState.SUCCEEDED.value else {},
        )
        for row in found
    ]


def deliveries_between(
    conn: sa.Connection, since: datetime, until: datetime | None
) -> list[Delivery]:
    query = (
        sa.select(outbox.c.channel, outbox.c.created_at, outbox.c.delivered_at, outbox.c.attempts)
        .where(_window(outbox.c.delivered_at, since, until))
        .order_by(outbox.c.delivered_at)
    )
    return [
        Delivery(c, created, delivered, int(n)) for c, created, delivered, n in conn.execute(query)
    ]


# -- the same from records (the in-memory store) ---------------------------------------------


def ended_job(job: Job, events: Iterable[JobEventRecord]) -> EndedJob:
    """The :class:`EndedJob` of a job that ended (``finished_at`` set), from its events."""
    assert job.finished_at is not None
    admitted_at: datetime | None = None
    summary: dict[str, Any] = {}
    for record in events:
        if record.to_state is JobState.PROVISIONING:
            admitted_at = record.at if admitted_at is None else max(admitted_at, record.at)
        if record.to_state is JobState.SUCCEEDED and record.from_state is not JobState.SUCCEEDED:
            summary = dict(record.detail.get("summary") or {})
    return EndedJob(
        pipeline=job.pipeline,
        state=job.state,
        created_at=job.created_at,
        finished_at=job.finished_at,
        executor=job.executor,
        failure_code=job.failure.code if job.failure is not None else None,
        queued_at=job.queued_at,
        admitted_at=admitted_at,
        started_at=job.started_at,
        summary=summary if job.state is JobState.SUCCEEDED else {},
    )


def backlog_of(messages: Iterable[OutboxMessage]) -> list[OutboxBacklog]:
    """:func:`outbox_backlog` of messages in memory."""
    by_channel: dict[str, list[OutboxMessage]] = {}
    for m in messages:
        by_channel.setdefault(m.channel, []).append(m)
    out = []
    for channel in sorted(by_channel):
        group = by_channel[channel]
        pending = [m for m in group if m.delivered_at is None and m.dead_at is None]
        out.append(
            OutboxBacklog(
                channel,
                pending=len(pending),
                delivered=sum(m.delivered_at is not None for m in group),
                dead=sum(m.dead_at is not None for m in group),
                attempts=sum(m.attempts for m in group),
                oldest_pending_at=min((m.created_at for m in pending), default=None),
                retrying=sum(m.attempts > 0 for m in pending),
            )
        )
    return out
