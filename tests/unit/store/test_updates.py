from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vatti.domain.failure import Failure
from vatti.domain.ids import id_time_ms
from vatti.domain.states import JobEvent, JobState, apply
from vatti.store.base import Changes, NewJob
from vatti.store.updates import event_detail, new_job, transition_fields

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def fresh() -> NewJob:
    return NewJob(pipeline="pgs", spec={"a": 1}, fingerprint="f" * 64, client_id="c")


def test_new_job_is_queued_with_two_events() -> None:
    job, records = new_job(fresh(), T0)
    assert job.state is JobState.QUEUED
    assert (job.created_at, job.queued_at, job.attempt) == (T0, T0, 0)
    assert id_time_ms(job.id) == int(T0.timestamp() * 1000)
    assert [(r.seq, r.from_state, r.to_state, r.event) for r in records] == [
        (1, None, JobState.REQUESTED, JobEvent.SUBMIT),
        (2, JobState.REQUESTED, JobState.QUEUED, JobEvent.ACCEPT),
    ]


def test_new_job_times_are_utc() -> None:
    job, _ = new_job(fresh(), T0.astimezone(timezone(timedelta(hours=-5))))
    assert job.created_at.tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        new_job(fresh(), datetime(2025, 1, 1))


def test_fields_per_transition() -> None:
    job, _ = new_job(fresh(), T0)
    t1 = T0 + timedelta(seconds=1)
    admit = transition_fields(job, apply(job.state, JobEvent.ADMIT), JobEvent.ADMIT, t1, Changes())
    assert admit == {"state": JobState.PROVISIONING, "updated_at": t1, "attempt": 1}
    running = transition_fields(
        job,
        apply(JobState.PROVISIONING, JobEvent.START),
        JobEvent.START,
        t1,
        Changes(executor="local", handle="h"),
    )
    assert running["started_at"] == t1
    assert (running["executor"], running["executor_handle"]) == ("local", "h")
    failure = Failure("timeout", "wall time exceeded")
    failed = transition_fields(
        job, apply(JobState.RUNNING, JobEvent.FAIL), JobEvent.FAIL, t1, Changes(failure=failure)
    )
    assert failed["finished_at"] == t1
    assert failed["failure"] == failure
    assert "started_at" not in failed


def test_event_detail_carries_failure() -> None:
    failure = Failure("vanished", "pid 1 gone")
    assert event_detail(Changes(failure=failure, detail={"by": "reconcile"})) == {
        "by": "reconcile",
        "failure": {"code": "vanished", "message": "pid 1 gone", "step": None, "exit_code": None},
    }
