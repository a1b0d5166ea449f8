"""Pure conversions from store records to response models (no secrets leave here)."""

from __future__ import annotations

from urllib.parse import quote

from vatti.api.models import EventOut, FailureOut, JobLinks, JobOut, OutputOut
from vatti.domain.jobs import Job, JobEventRecord
from vatti.domain.manifest import OutputEntry
from vatti.domain.urls import redact_url

API_PREFIX = "/api/v1"


def job_path(job_id: str) -> str:
    return f"{API_PREFIX}/jobs/{job_id}"


def job_view(job: Job) -> JobOut:
    """The public JSON of a job."""
    base = job_path(job.id)
    labels = job.spec.get("labels")
    return JobOut(
        id=job.id,
        client_id=job.client_id,
        pipeline=job.pipeline,
        tenant=job.tenant,
        state=job.state.value,
        created_at=job.created_at,
        updated_at=job.updated_at,
        queued_at=job.queued_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        failure=FailureOut(**job.failure.to_dict()) if job.failure else None,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        webhook_url=redact_url(job.webhook_url, keep_path=False) if job.webhook_url else None,
        results_expire_at=job.results_expire_at,
        links=JobLinks(
            self=base, events=f"{base}/events", logs=f"{base}/logs", outputs=f"{base}/outputs"
        ),
    )


def event_view(record: JobEventRecord, attempt: int) -> EventOut:
    return EventOut(
        seq=record.seq,
        attempt=attempt,
        event=record.event.value,
        from_state=record.from_state.value if record.from_state else None,
        to_state=record.to_state.value,
        at=record.at,
        detail=record.detail,
        actor=record.actor,
    )


def output_view(job_id: str, entry: OutputEntry) -> OutputOut:
    return OutputOut(
        name=entry.name,
        size=entry.size,
        sha256=entry.sha256,
        url=f"{job_path(job_id)}/outputs/{quote(entry.name)}",
    )
