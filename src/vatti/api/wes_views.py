"""Pure conversions from jobs and their events to WES bodies (no secrets leave here).

A run is a job (its id is the run id). Its tasks are its attempts: attempt 1, and one more for
each retry, each a task from the job's admission to its end, named after the pipeline; their
start and end times, exit code and failure come from the job's audit trail. Logs and outputs
are links into the jobs API (``/api/v1/jobs/{id}/logs``, ``.../outputs/NAME``), read with the
same bearer token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from vatti.api.views import job_path
from vatti.api.wes_models import Log, RunLog, RunRequest, RunStatus, RunSummary, TaskLog
from vatti.domain.jobs import Job, JobEventRecord, event_attempts
from vatti.domain.manifest import OutputEntry
from vatti.domain.states import JobEvent, JobState, is_terminal, wes_state
from vatti.domain.wes import run_request_of

WES_PREFIX = "/ga4gh/wes/v1"


def wes_time(at: datetime | None) -> str | None:
    """The spec's time format, ``%Y-%m-%dT%H:%M:%SZ`` (UTC).

    >>> from datetime import UTC
    >>> wes_time(datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC))
    '2026-01-02T03:04:05Z'
    """
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None


def run_status(job: Job) -> RunStatus:
    return RunStatus(run_id=job.id, state=wes_state(job.state, job.failure))


def run_summary(job: Job) -> RunSummary:
    labels = job.spec.get("labels")
    return RunSummary(
        run_id=job.id,
        state=wes_state(job.state, job.failure),
        start_time=wes_time(job.started_at),
        end_time=wes_time(job.finished_at),
        tags={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )


def _failure_logs(failure: dict[str, Any] | None) -> tuple[int | None, list[str] | None]:
    if not failure:
        return None, None
    where = f" (step {failure['step']})" if failure.get("step") else ""
    exit_code = failure.get("exit_code")
    line = f"{failure.get('code')}: {failure.get('message')}{where}"
    return (exit_code if isinstance(exit_code, int) else None), [line]


def run_log(job: Job, outputs: list[OutputEntry]) -> RunLog:
    logs = f"{job_path(job.id)}/logs"
    exit_code, system_logs = _failure_logs(job.failure.to_dict() if job.failure else None)
    return RunLog(
        run_id=job.id,
        request=RunRequest(**run_request_of(job.spec, job.pipeline, job.client_id)),
        state=wes_state(job.state, job.failure),
        run_log=Log(
            name=job.pipeline,
            start_time=wes_time(job.started_at),
            end_time=wes_time(job.finished_at),
            stdout=logs,
            stderr=logs,
            exit_code=exit_code,
            system_logs=system_logs,
        ),
        task_logs_url=f"{WES_PREFIX}/runs/{job.id}/tasks",
        outputs={e.name: f"{job_path(job.id)}/outputs/{quote(e.name)}" for e in outputs},
    )


def task_logs(job: Job, records: list[JobEventRecord]) -> list[TaskLog]:
    """One task per attempt that was admitted, oldest first (see the module's docstring)."""
    attempts = event_attempts(records)
    tasks: dict[int, dict[str, Any]] = {}
    for record, attempt in zip(records, attempts, strict=True):
        if record.event is JobEvent.ADMIT:
            tasks[attempt] = {"id": str(attempt), "name": job.pipeline}
        task = tasks.get(attempt)
        if task is None:
            continue
        if record.event is JobEvent.START:
            task["start_time"] = wes_time(record.at)
        if record.to_state is not record.from_state and is_terminal(record.to_state):
            task["end_time"] = wes_time(record.at)
            task["exit_code"], task["system_logs"] = _failure_logs(record.detail.get("failure"))
    last = max(attempts, default=0)
    if last in tasks and job.state is not JobState.QUEUED:
        logs = f"{job_path(job.id)}/logs"
        tasks[last].update(stdout=logs, stderr=logs)
    return [TaskLog(**task) for _, task in sorted(tasks.items())]
