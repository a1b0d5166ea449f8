"""The job service on the in-memory store: submission rules, cancel, retry, reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from vatti.domain.access import OPERATOR_CALLER
from vatti.domain.failure import Failure
from vatti.domain.jobs import event_attempts
from vatti.domain.states import JobEvent, JobState
from vatti.engine.notifications import webhook_notifications
from vatti.pipelines.base import default_registry
from vatti.service.errors import (
    DuplicateClientId,
    InvalidJobRequest,
    LogNotFound,
    MalformedRequest,
    NotCancellable,
    NotRetryable,
    ResultsNotFound,
)
from vatti.service.jobs import JobService
from vatti.store.base import Changes
from vatti.store.errors import JobNotFound
from vatti.store.memory import MemoryJobStore
from vatti.testing.jobs import NoLogs, NoResults

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class Woken:
    def __init__(self) -> None:
        self.topics: list[str] = []

    def notify(self, topic: str) -> None:
        self.topics.append(topic)


def make_service(dedup_window_s: float = 600.0) -> tuple[JobService, Woken]:
    woken = Woken()
    service = JobService(
        store=MemoryJobStore(),
        registry=default_registry(),
        results=NoResults(),
        logs=NoLogs(),
        wakeups=woken,
        notify=webhook_notifications("http://hooks.example/h"),
        dedup_window_s=dedup_window_s,
        clock=Clock(),
    )
    return service, woken


def body(name: str = "world", **extra: object) -> bytes:
    return json.dumps(
        {"pipeline": "command", "params": {"command": "hello", "args": {"name": name}}, **extra}
    ).encode()


def fail(service: JobService, job_id: str) -> None:
    """Drive a job through an attempt that fails (what an engine would do)."""
    store, now = service.store, service.clock
    store.transition(job_id, JobEvent.ADMIT, now=now())
    store.transition(job_id, JobEvent.START, now=now(), changes=Changes(handle="h", executor="x"))
    failure = Failure("pipeline_failed", "exit 3", step="command", exit_code=3)
    store.transition(job_id, JobEvent.FAIL, now=now(), changes=Changes(failure=failure))


def test_submit_stores_a_queued_job_and_wakes_admission() -> None:
    service, woken = make_service()
    submission = service.submit(body("hi"), caller=OPERATOR_CALLER)
    assert submission.created
    assert submission.job.state is JobState.QUEUED
    assert service.get(submission.job.id, caller=OPERATOR_CALLER) == submission.job
    assert woken.topics == ["admission", "outbox"]


def test_identical_requests_share_one_job() -> None:
    service, woken = make_service()
    first = service.submit(body("hi"), caller=OPERATOR_CALLER)
    again = service.submit(body("hi"), caller=OPERATOR_CALLER)
    assert again.deduplicated
    assert again.job.id == first.job.id
    assert woken.topics == ["admission", "outbox"]  # nothing new to wake anyone for


def test_a_known_client_id_names_its_job() -> None:
    service, _ = make_service()
    first = service.submit(body(client_id="INTP00000001"), caller=OPERATOR_CALLER)
    with pytest.raises(DuplicateClientId) as info:
        service.submit(body("other", client_id="INTP00000001"), caller=OPERATOR_CALLER)
    assert info.value.job.id == first.job.id
    assert info.value.code == "duplicate_client_id"


def test_bad_requests_are_domain_errors_naming_fields() -> None:
    service, woken = make_service()
    with pytest.raises(MalformedRequest):
        service.submit(b"{", caller=OPERATOR_CALLER)
    with pytest.raises(InvalidJobRequest) as info:
        service.submit(
            json.dumps({"pipeline": "Bad Name", "labels": {"k": 1}}).encode(),
            caller=OPERATOR_CALLER,
        )
    assert {d["field"] for d in info.value.details} == {"pipeline", "labels.k"}
    assert info.value.exit_code == 2
    assert woken.topics == []
    assert service.list_jobs(caller=OPERATOR_CALLER).items == []


def test_cancel_a_queued_job_then_not_again() -> None:
    service, woken = make_service()
    job = service.submit(body(), caller=OPERATOR_CALLER).job
    assert service.cancel(job.id, caller=OPERATOR_CALLER).state is JobState.CANCELLED
    assert "cancel" in woken.topics
    with pytest.raises(NotCancellable):
        service.cancel(job.id, caller=OPERATOR_CALLER)


def test_retry_runs_a_failed_job_again_under_its_client_id() -> None:
    service, woken = make_service()
    job = service.submit(body(client_id="INTP00000007"), caller=OPERATOR_CALLER).job
    fail(service, job.id)
    woken.topics.clear()

    again = service.retry(job.id, caller=OPERATOR_CALLER)

    assert again.id == job.id
    assert again.client_id == "INTP00000007"
    assert again.state is JobState.QUEUED
    assert again.failure is None
    assert again.executor_handle is None
    assert (again.started_at, again.finished_at) == (None, None)
    assert woken.topics == ["admission", "outbox"]
    records = service.events(job.id, caller=OPERATOR_CALLER)
    assert [r.event for r in records][-2:] == [JobEvent.FAIL, JobEvent.RETRY]
    assert event_attempts(records) == [1, 1, 1, 1, 1, 2]
    # the retry is announced like any state change (hattivatti: Created again)
    outbox = service.store.outbox_for(job.id)
    assert outbox[-1].payload["event"] == "Created"
    assert outbox[-1].payload["run_name"] == "INTP00000007"
    # its next admission is attempt 2 of the same job
    assert service.store.transition(job.id, JobEvent.ADMIT, now=service.clock()).job.attempt == 2


def test_retry_a_cancelled_job() -> None:
    service, _ = make_service()
    job = service.submit(body(), caller=OPERATOR_CALLER).job
    service.cancel(job.id, caller=OPERATOR_CALLER)
    assert service.retry(job.id, caller=OPERATOR_CALLER).state is JobState.QUEUED


@pytest.mark.parametrize("finish", ["queued", "succeeded", "retried"])
def test_only_failed_or_cancelled_jobs_are_retried(finish: str) -> None:
    service, _ = make_service()
    job = service.submit(body(), caller=OPERATOR_CALLER).job
    store, now = service.store, service.clock
    if finish == "succeeded":
        store.transition(job.id, JobEvent.ADMIT, now=now())
        store.transition(job.id, JobEvent.START, now=now())
        store.transition(job.id, JobEvent.SUCCEED, now=now())
    elif finish == "retried":
        fail(service, job.id)
        service.retry(job.id, caller=OPERATOR_CALLER)
    with pytest.raises(NotRetryable) as info:
        service.retry(job.id, caller=OPERATOR_CALLER)
    assert "only a failed or cancelled job" in info.value.message
    assert info.value.exit_code == 1


def test_unknown_and_impossible_ids_are_not_found() -> None:
    service, _ = make_service()
    for job_id in ("0" * 36, "not-an-id\x00"):
        for call in (service.get, service.cancel, service.retry, service.events, service.outputs):
            with pytest.raises(JobNotFound):
                call(job_id, caller=OPERATOR_CALLER)


def test_missing_results_and_logs_are_their_own_errors() -> None:
    service, _ = make_service()
    job = service.submit(body(), caller=OPERATOR_CALLER).job
    with pytest.raises(ResultsNotFound, match="queued"):
        service.outputs(job.id, caller=OPERATOR_CALLER)
    with pytest.raises(LogNotFound):
        service.log(job.id, caller=OPERATOR_CALLER)
