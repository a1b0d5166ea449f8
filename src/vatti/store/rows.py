"""Mapping between table rows and domain records (pure)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from vatti.domain.failure import Failure
from vatti.domain.jobs import Job, JobEventRecord, OutboxMessage
from vatti.domain.states import JobEvent, JobState


def failure_columns(failure: Failure | None) -> dict[str, Any]:
    return {
        "failure_code": failure.code if failure else None,
        "failure_message": failure.message if failure else None,
        "failure_step": failure.step if failure else None,
        "failure_exit_code": failure.exit_code if failure else None,
    }


def job_from_row(row: sa.RowMapping) -> Job:
    failure = None
    if row["failure_code"] is not None:
        failure = Failure(
            code=row["failure_code"],
            message=row["failure_message"] or "",
            step=row["failure_step"],
            exit_code=row["failure_exit_code"],
        )
    return Job(
        id=row["id"],
        client_id=row["client_id"],
        fingerprint=row["fingerprint"],
        pipeline=row["pipeline"],
        spec=row["spec"],
        state=JobState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempt=row["attempt"],
        executor=row["executor"],
        executor_handle=row["executor_handle"],
        failure=failure,
        webhook_url=row["webhook_url"],
        results_expire_at=row["results_expire_at"],
        results_deleted_at=row["results_deleted_at"],
        tenant=row["tenant"],
    )


def event_from_row(row: sa.RowMapping) -> JobEventRecord:
    return JobEventRecord(
        id=row["id"],
        job_id=row["job_id"],
        seq=row["seq"],
        from_state=JobState(row["from_state"]) if row["from_state"] is not None else None,
        to_state=JobState(row["to_state"]),
        event=JobEvent(row["event"]),
        at=row["at"],
        detail=row["detail"],
        actor=row["actor"],
    )


def event_columns(record: JobEventRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "job_id": record.job_id,
        "seq": record.seq,
        "from_state": record.from_state.value if record.from_state else None,
        "to_state": record.to_state.value,
        "event": record.event.value,
        "at": record.at,
        "detail": record.detail,
        "actor": record.actor,
    }


def message_from_row(row: sa.RowMapping) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        job_id=row["job_id"],
        event_id=row["event_id"],
        channel=row["channel"],
        destination=row["destination"],
        payload=row["payload"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        dead_at=row["dead_at"],
        last_error=row["last_error"],
    )
