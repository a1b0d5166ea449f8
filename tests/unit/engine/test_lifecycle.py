from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from tests.unit.engine.conftest import reconcile_once

from vatti.domain.access import OPERATOR_CALLER
from vatti.domain.failure import Failure
from vatti.domain.outcome import JobWarning, Outcome
from vatti.domain.states import JobEvent, JobState
from vatti.engine.admission import admit_once
from vatti.engine.lifecycle import advance
from vatti.engine.notifications import JOB_WEBHOOK, SERVICE_WEBHOOK
from vatti.engine.ports import WALL_TIME, Exited, Running, Vanished
from vatti.engine.reconcile import cancel_once
from vatti.engine.service import Engine, poll_once
from vatti.engine.timeouts import enforce_timeouts
from vatti.service.errors import NotCancellable
from vatti.testing.jobs import service_for

pytestmark = pytest.mark.unit


def states(h: Any, job_id: str) -> list[str]:
    return [e.to_state.value for e in h.store.events(job_id)]


def test_admission_respects_the_limit_in_fifo_order(harness_factory: Any) -> None:
    h = harness_factory(max_concurrent_jobs=2)
    jobs = [h.submit(f"job {i}") for i in range(3)]
    assert admit_once(h.ctx) == 2
    assert [s.job_id for s in h.executor.submitted] == [jobs[0].id, jobs[1].id]
    assert [h.store.get(j.id).state for j in jobs] == [
        JobState.RUNNING,
        JobState.RUNNING,
        JobState.QUEUED,
    ]
    assert admit_once(h.ctx) == 0  # still full
    h.executor.finish(jobs[0].id, Exited(0))
    h.outcomes.records[jobs[0].id] = Outcome(h.clock(), ["out.txt"])
    reconcile_once(h.ctx)
    assert admit_once(h.ctx) == 1
    assert h.executor.submitted[-1].job_id == jobs[2].id


def test_admission_submits_the_runtime_with_limits_and_only_runtime_env(
    harness_factory: Any,
) -> None:
    h = harness_factory(
        default_memory_mb=512,
        default_wall_time_s=600,
        runtime_env={"VATTI_STORAGE_URL": "file:///data"},
        runtime_secrets={"VATTI_STORE_KEY": "k3y"},
    )
    job = h.submit(resources={"wall_time_s": 30})
    admit_once(h.ctx)
    (sub,) = h.executor.submitted
    assert (sub.job_id, sub.attempt) == (job.id, 1)
    assert sub.env == {"VATTI_STORAGE_URL": "file:///data"}
    assert sub.secrets == {"VATTI_STORE_KEY": "k3y"}
    assert "k3y" not in repr(sub)
    assert (sub.limits.memory_mb, sub.limits.wall_time_s) == (512, 30)
    assert h.areas.specs[job.id]["params"] == job.spec["params"]
    assert h.store.get(job.id).executor_handle == f"h-{job.id}"


def test_a_request_may_lower_the_service_limits_but_not_raise_them(
    harness_factory: Any,
) -> None:
    h = harness_factory(default_memory_mb=64, default_wall_time_s=3)
    h.submit(resources={"memory_mb": 2000, "wall_time_s": 20})
    h.submit(resources={"memory_mb": 32, "wall_time_s": 2})
    admit_once(h.ctx)
    assert [(s.limits.memory_mb, s.limits.wall_time_s) for s in h.executor.submitted] == [
        (64, 3),
        (32, 2),
    ]


def test_success_path_events_outbox_and_cleanup(harness: Any) -> None:
    job = harness.submit(webhook_url="http://client.example/hook")
    admit_once(harness.ctx)
    harness.executor.finish(job.id, Exited(0))
    harness.outcomes.records[job.id] = Outcome(harness.clock(), ["out.txt"])
    reconcile_once(harness.ctx)

    done = harness.store.get(job.id)
    assert done.state is JobState.SUCCEEDED
    assert done.results_expire_at == harness.clock() + timedelta(days=7)
    expected_states = ["requested", "queued", "provisioning", "running", "succeeded"]
    assert states(harness, job.id) == expected_states
    outbox = harness.store.outbox_for(job.id)
    events = harness.store.events(job.id)
    # the webhooks are named, not copied: the service's URL stays in the configuration, the
    # job's in its row
    for dest in (SERVICE_WEBHOOK, JOB_WEBHOOK):
        rows = [m for m in outbox if m.destination == dest]
        assert [m.event_id for m in rows] == [e.id for e in events]
        assert [m.payload["event"] for m in rows] == [
            "Requested",
            "Created",
            "Created",
            "Deployed",
            "Succeeded",
        ]
    assert len(outbox) == 2 * len(events)
    assert harness.areas.work_deleted == [job.id]
    assert harness.areas.results_deleted == []
    assert harness.outcomes.forgotten == [job.id]
    assert harness.executor.cleaned == [f"h-{job.id}"]


def test_the_warnings_of_a_success_reach_its_event_and_every_notification(
    harness: Any,
) -> None:
    job = harness.submit(webhook_url="http://client.example/hook")
    admit_once(harness.ctx)
    harness.executor.finish(job.id, Exited(0))
    warning = JobWarning(
        "pgs_min_overlap",
        "custom in cineca: none of 2 variants matched (not computed)",
        {"sampleset": "cineca", "accession": "custom", "match_rate": 0.0},
    )
    harness.outcomes.records[job.id] = Outcome(harness.clock(), ["a.txt"], warnings=[warning])
    reconcile_once(harness.ctx)

    assert harness.store.get(job.id).state is JobState.SUCCEEDED
    succeeded = harness.store.events(job.id)[-1]
    assert succeeded.detail == {"outputs": ["a.txt"], "warnings": [warning.to_dict()]}
    outbox = harness.store.outbox_for(job.id)
    for dest in (SERVICE_WEBHOOK, JOB_WEBHOOK):
        payloads = [m.payload for m in outbox if m.destination == dest]
        assert payloads[-1]["event"] == "Succeeded"
        assert payloads[-1]["warnings"] == [warning.to_dict()]
        assert all(p["warnings"] == [] for p in payloads[:-1])


def test_the_summary_of_a_success_is_kept_in_its_event_not_in_notifications(
    harness: Any,
) -> None:
    job = harness.submit(webhook_url="http://client.example/hook")
    admit_once(harness.ctx)
    harness.executor.finish(job.id, Exited(0))
    summary = {"pgs_match": {"edges": [1.0], "counts": [2], "sum": 1.5, "passed": 1}}
    harness.outcomes.records[job.id] = Outcome(harness.clock(), ["a.txt"], summary=summary)
    reconcile_once(harness.ctx)

    succeeded = harness.store.events(job.id)[-1]
    assert succeeded.detail == {"outputs": ["a.txt"], "summary": summary}
    ended = harness.store.jobs_ended_between(job.created_at)
    assert [e.summary for e in ended] == [summary]
    assert all("summary" not in m.payload for m in harness.store.outbox_for(job.id))


def test_failure_records_the_outcome_and_deletes_results(harness: Any) -> None:
    job = harness.submit()
    admit_once(harness.ctx)
    failure = Failure("pipeline_failed", "command 'sh' exited with status 3", "command", 3)
    harness.executor.finish(job.id, Exited(1))
    harness.outcomes.records[job.id] = Outcome(harness.clock(), failure=failure)
    reconcile_once(harness.ctx)

    done = harness.store.get(job.id)
    assert done.state is JobState.FAILED
    assert done.failure == failure
    assert states(harness, job.id)[-1] == "failed"
    last = harness.store.outbox_for(job.id)[-1].payload
    assert (last["event"], last["trace_name"], last["trace_exit"]) == ("Failed", "command", 3)
    assert harness.areas.results_deleted == [job.id]
    assert harness.areas.work_deleted == [job.id]


def test_exit_without_outcome_is_a_generic_failure(harness: Any) -> None:
    job = harness.submit()
    admit_once(harness.ctx)
    harness.executor.finish(job.id, Exited(137))
    reconcile_once(harness.ctx)
    failure = harness.store.get(job.id).failure
    assert failure is not None
    assert (failure.code, failure.exit_code) == ("internal", 137)
    assert "137" in failure.message


def test_exit_zero_without_outcome_fails(harness: Any) -> None:
    job = harness.submit()
    admit_once(harness.ctx)
    harness.executor.finish(job.id, Exited(0))
    reconcile_once(harness.ctx)
    assert harness.store.get(job.id).state is JobState.FAILED


def test_vanished_process_fails_with_reason(harness: Any) -> None:
    job = harness.submit()
    admit_once(harness.ctx)
    harness.executor.finish(job.id, Vanished("process 1234 is gone without an exit status"))
    reconcile_once(harness.ctx)
    done = harness.store.get(job.id)
    assert done.state is JobState.FAILED
    assert done.failure is not None
    assert done.failure.code == "vanished"
    assert "1234" in done.failure.message
    assert "restarted" in done.failure.message
    assert harness.areas.work_deleted == [job.id]


def test_cancel_queued_job_is_immediate(harness: Any) -> None:
    job = harness.submit()
    jobs = service_for(Engine(harness.ctx))
    assert jobs.cancel(job.id, caller=OPERATOR_CALLER).state is JobState.CANCELLED
    assert states(harness, job.id) == ["requested", "queued", "cancelled"]
    assert admit_once(harness.ctx) == 0
    assert harness.executor.submitted == []
    with pytest.raises(NotCancellable):
        jobs.cancel(job.id, caller=OPERATOR_CALLER)


def test_cancel_running_job_terminates_then_cancels(harness: Any) -> None:
    job = harness.submit()
    admit_once(harness.ctx)
    jobs = service_for(Engine(harness.ctx))
    assert jobs.cancel(job.id, caller=OPERATOR_CALLER).state is JobState.CANCELLING
    assert harness.executor.terminated == []  # the loop does it, not the API call
    assert (
        jobs.cancel(job.id, caller=OPERATOR_CALLER).state is JobState.CANCELLING
    )  # repeat is harmless
    reconcile_once(harness.ctx)
    done = harness.store.get(job.id)
    assert done.state is JobState.CANCELLED
    assert harness.executor.terminated == [f"h-{job.id}"]
    assert states(harness, job.id)[-2:] == ["cancelling", "cancelled"]
    assert harness.areas.results_deleted == [job.id]


def test_cancelled_jobs_are_terminated_in_parallel_apart_from_the_poll(
    harness_factory: Any,
) -> None:
    h = harness_factory(max_concurrent_jobs=2)
    a, b = h.submit(), h.submit()
    admit_once(h.ctx)
    jobs = service_for(Engine(h.ctx))
    for job in (a, b):
        jobs.cancel(job.id, caller=OPERATOR_CALLER)
    # each termination waits for the other to start: done one after the other, they would hang
    both_terminating = threading.Barrier(2, timeout=5)
    terminate = h.executor.terminate

    def slow_terminate(handle: str, grace_s: float) -> None:
        both_terminating.wait()
        terminate(handle, grace_s)

    h.executor.terminate = slow_terminate
    poll_once(h.ctx)  # the poll leaves cancelling jobs to the cancel loop
    assert h.executor.terminated == []
    assert cancel_once(h.ctx) == 2
    assert {h.store.get(j.id).state for j in (a, b)} == {JobState.CANCELLED}
    assert sorted(h.executor.terminated) == sorted([f"h-{a.id}", f"h-{b.id}"])


def test_queue_timeout(harness_factory: Any) -> None:
    h = harness_factory(max_concurrent_jobs=0, queue_timeout_s=60)
    job = h.submit()
    h.clock.advance(58)  # submit() advanced 1 s: 59 s in the queue
    assert enforce_timeouts(h.ctx) == 0
    h.clock.advance(1)
    assert enforce_timeouts(h.ctx) == 1
    failure = h.store.get(job.id).failure
    assert failure is not None
    assert failure.code == "queue_timeout"


def test_wall_time_timeout_terminates_and_fails(harness_factory: Any) -> None:
    h = harness_factory(default_wall_time_s=100)
    job = h.submit()
    admit_once(h.ctx)
    h.clock.advance(99)
    assert enforce_timeouts(h.ctx) == 0
    assert h.executor.poll(f"h-{job.id}") == Running()
    h.clock.advance(1)
    assert enforce_timeouts(h.ctx) == 1
    done = h.store.get(job.id)
    assert done.state is JobState.FAILED
    assert done.failure is not None
    assert done.failure.code == "timeout"
    assert h.executor.terminated == [f"h-{job.id}"]


def test_provision_failure_fails_the_job(harness: Any) -> None:
    harness.executor.fail_submit = OSError("no such executable")
    job = harness.submit()
    admit_once(harness.ctx)
    done = harness.store.get(job.id)
    assert done.state is JobState.FAILED
    assert done.failure is not None
    assert done.failure.code == "provision_failed"
    assert "no such executable" in done.failure.message


def test_a_cancel_that_races_a_failed_start_ends_cancelled(harness: Any) -> None:
    job = harness.submit()
    jobs = service_for(Engine(harness.ctx))

    def cancelled_then_broken(launch: Any) -> str:
        jobs.cancel(
            launch.job_id, caller=OPERATOR_CALLER
        )  # the user's cancel arrives while the executor is starting it
        raise OSError("no such executable")

    harness.executor.submit = cancelled_then_broken
    admit_once(harness.ctx)

    done = harness.store.get(job.id)
    assert done.state is JobState.CANCELLED
    assert done.failure is None  # the job did what was asked first: it stopped
    last = harness.store.events(job.id)[-1]
    assert (last.from_state, last.event) == (JobState.CANCELLING, JobEvent.CANCELLED)
    assert last.detail["start_failure"]["code"] == "provision_failed"
    assert "no such executable" in last.detail["start_failure"]["message"]


def test_stuck_provisioning_without_handle_fails_after_timeout(harness_factory: Any) -> None:
    h = harness_factory(provision_timeout_s=30)
    job = h.submit()
    # the admitter died right after its admit transition: no handle was ever stored
    h.store.transition(job.id, JobEvent.ADMIT, now=h.clock())
    reconcile_once(h.ctx)
    assert h.store.get(job.id).state is JobState.PROVISIONING
    h.clock.advance(30)
    reconcile_once(h.ctx)
    assert h.store.get(job.id).state is JobState.FAILED


def test_refused_transition_is_quiet(harness: Any) -> None:
    job = harness.submit()
    service_for(Engine(harness.ctx)).cancel(job.id, caller=OPERATOR_CALLER)
    # a writer that read "queued" before the cancel tries to admit: refused, nothing raised
    assert advance(harness.ctx, job.id, JobEvent.ADMIT) is None
    assert harness.store.get(job.id).state is JobState.CANCELLED
    assert harness.executor.submitted == []


def test_a_pending_job_stays_provisioning_and_starts_when_the_executor_runs_it(
    harness_factory: Any,
) -> None:
    h = harness_factory()
    h.executor.pending = True
    job = h.submit()
    admit_once(h.ctx)
    h.clock.advance(30)
    poll_once(h.ctx)
    pending = h.store.get(job.id)
    assert (pending.state, pending.started_at) == (JobState.PROVISIONING, None)
    h.executor.start(job.id)
    poll_once(h.ctx)
    started = h.store.get(job.id)
    assert started.state is JobState.RUNNING
    assert started.started_at == h.clock()


def test_wall_time_counts_from_the_start_not_from_the_submission(harness_factory: Any) -> None:
    h = harness_factory(default_wall_time_s=60)
    h.executor.pending = True
    job = h.submit()
    admit_once(h.ctx)
    h.clock.advance(50)  # queued on the executor: not run time
    h.executor.start(job.id)
    poll_once(h.ctx)
    h.clock.advance(59)
    poll_once(h.ctx)
    assert h.store.get(job.id).state is JobState.RUNNING
    h.clock.advance(1)
    poll_once(h.ctx)
    failed = h.store.get(job.id)
    assert failed.state is JobState.FAILED
    assert failed.failure is not None
    assert failed.failure.code == "timeout"
    assert h.executor.terminated == [f"h-{job.id}"]


def test_a_job_pending_past_the_provision_timeout_fails_and_is_stopped(
    harness_factory: Any,
) -> None:
    h = harness_factory(provision_timeout_s=120)
    h.executor.pending = True
    job = h.submit()
    admit_once(h.ctx)
    h.clock.advance(119)
    poll_once(h.ctx)
    assert h.store.get(job.id).state is JobState.PROVISIONING
    h.clock.advance(1)
    poll_once(h.ctx)
    failed = h.store.get(job.id)
    assert failed.state is JobState.FAILED
    assert failed.failure is not None
    assert failed.failure.code == "provision_failed"
    assert "did not start" in failed.failure.message
    assert h.executor.terminated == [f"h-{job.id}"]
    assert h.executor.cleaned == [f"h-{job.id}"]


def test_a_job_stopped_by_the_executors_own_wall_time_limit_fails_with_timeout(
    harness_factory: Any,
) -> None:
    h = harness_factory(default_wall_time_s=10)
    job = h.submit()
    admit_once(h.ctx)
    h.executor.finish(job.id, Exited(137, "killed by signal SIGKILL", limit=WALL_TIME))
    poll_once(h.ctx)
    failed = h.store.get(job.id)
    assert failed.state is JobState.FAILED
    assert failed.failure is not None
    assert failed.failure.code == "timeout"


def test_a_job_that_ended_before_its_first_poll_is_started_then_finished(
    harness_factory: Any,
) -> None:
    h = harness_factory()
    h.executor.pending = True
    job = h.submit()
    admit_once(h.ctx)
    h.executor.finish(job.id, Exited(0))
    h.outcomes.records[job.id] = Outcome(h.clock(), [])
    poll_once(h.ctx)
    assert states(h, job.id)[-3:] == ["provisioning", "running", "succeeded"]


@pytest.mark.parametrize("end", ["succeed", "fail", "cancel"])
def test_the_log_is_saved_to_the_job_area_before_cleanup(harness_factory: Any, end: str) -> None:
    h = harness_factory()
    job = h.submit()
    admit_once(h.ctx)
    h.executor.write_log(job.id, b"line 1\n" * 200_000)  # more than one chunk
    h.executor.write_log(job.id, b"the end\n")
    if end == "succeed":
        h.outcomes.records[job.id] = Outcome(h.clock(), [])
        h.executor.finish(job.id, Exited(0))
        poll_once(h.ctx)
    elif end == "fail":
        h.executor.finish(job.id, Exited(3))
        poll_once(h.ctx)
    else:
        service_for(Engine(h.ctx)).cancel(job.id, caller=OPERATOR_CALLER)
        cancel_once(h.ctx)
    assert h.store.get(job.id).terminal
    assert h.areas.saved_logs[job.id] == b"line 1\n" * 200_000 + b"the end\n"
    assert h.executor.cleaned == [f"h-{job.id}"]


def test_admission_keeps_to_the_executors_own_lower_limit(harness_factory: Any) -> None:
    """VATTI_SLURM_MAX_JOBS: an executor's ``max_jobs`` lowers VATTI_MAX_CONCURRENT_JOBS."""
    h = harness_factory(max_concurrent_jobs=3)
    h.executor.max_jobs = 1
    jobs = [h.submit(["echo", str(i)]) for i in range(3)]
    assert admit_once(h.ctx) == 1
    assert admit_once(h.ctx) == 0
    h.executor.max_jobs = 5  # above the global limit: the global one holds
    assert admit_once(h.ctx) == 2
    assert [s.job_id for s in h.executor.submitted] == [j.id for j in jobs]
