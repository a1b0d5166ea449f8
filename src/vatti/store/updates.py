"""What a transition or a submission writes, computed once for every store (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vatti.domain.ids import new_id
from vatti.domain.jobs import Job, JobEventRecord
from vatti.domain.states import (
    AUDIT_EVENTS,
    INITIAL_STATE,
    JobEvent,
    JobState,
    Transition,
    apply,
    is_terminal,
)
from vatti.domain.times import as_utc
from vatti.store.base import Changes, NewJob

#: The job fields a retry clears: the last attempt's run, failure and (deleted) results.
RETRY_RESETS: dict[str, Any] = {
    "started_at": None,
    "finished_at": None,
    "executor": None,
    "executor_handle": None,
    "failure": None,
    "results_expire_at": None,
    "results_deleted_at": None,
}


def transition_fields(
    job: Job, transition: Transition, event: JobEvent, now: datetime, changes: Changes
) -> dict[str, Any]:
    """The :class:`Job` fields that change when ``transition`` is applied at ``now``."""
    now = as_utc(now)
    fields: dict[str, Any] = {"state": transition.new_state, "updated_at": now}
    if event is JobEvent.RETRY:  # a new attempt: nothing of the last one stays on the job
        fields.update(RETRY_RESETS)
    if event is JobEvent.ADMIT:
        fields["attempt"] = job.attempt + 1
    if transition.new_state is JobState.QUEUED:
        fields["queued_at"] = now
    if transition.new_state is JobState.RUNNING:
        fields["started_at"] = now
    if is_terminal(transition.new_state):
        fields["finished_at"] = now
    if changes.failure is not None:
        fields["failure"] = changes.failure
    if changes.executor is not None:
        fields["executor"] = changes.executor
    if changes.handle is not None:
        fields["executor_handle"] = changes.handle
    if changes.results_expire_at is not None:
        fields["results_expire_at"] = as_utc(changes.results_expire_at)
    return fields


def event_detail(changes: Changes) -> dict[str, Any]:
    detail = dict(changes.detail)
    if changes.failure is not None:
        detail["failure"] = changes.failure.to_dict()
    return detail


def new_job(new: NewJob, now: datetime) -> tuple[Job, list[JobEventRecord]]:
    """A fresh job in ``queued`` and its two event rows: ``submit`` (created) and ``accept``."""
    now = as_utc(now)
    job_id = new_id(now)
    accepted = apply(INITIAL_STATE, JobEvent.ACCEPT)
    job = Job(
        id=job_id,
        client_id=new.client_id,
        fingerprint=new.fingerprint,
        pipeline=new.pipeline,
        spec=new.spec,
        state=accepted.new_state,
        created_at=now,
        updated_at=now,
        queued_at=now,
        webhook_url=new.webhook_url,
        tenant=new.tenant,
    )
    records = [
        JobEventRecord(
            new_id(now), job_id, 1, None, INITIAL_STATE, JobEvent.SUBMIT, now, {}, new.actor
        ),
        JobEventRecord(
            new_id(now),
            job_id,
            2,
            INITIAL_STATE,
            accepted.new_state,
            JobEvent.ACCEPT,
            now,
            {},
            new.actor,
        ),
    ]
    return job, records


def audit_record(
    job: Job, seq: int, event: JobEvent, now: datetime, actor: str, detail: dict[str, Any]
) -> JobEventRecord:
    """The row of an access to ``job`` (a download): its state stays; ValueError for an event
    that is a transition."""
    if event not in AUDIT_EVENTS:
        raise ValueError(f"{event.value!r} is a transition, not an audit event")
    return JobEventRecord(
        new_id(now), job.id, seq, job.state, job.state, event, as_utc(now), dict(detail), actor
    )
