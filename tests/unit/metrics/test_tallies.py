"""The counters and histograms /metrics derives from ended jobs and deliveries, and the folding
that reads each row once."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import pytest

from vatti.domain.match_rates import SUMMARY_KEY, MatchRateSummary
from vatti.domain.states import JobState
from vatti.metrics import definitions, tallies
from vatti.metrics.tallies import EPOCH, Folding, Tallies, tallies_of
from vatti.store.base import Delivery, EndedJob

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ended(state: JobState = JobState.SUCCEEDED, **kw: object) -> EndedJob:
    fields: dict[str, object] = {
        "pipeline": "command",
        "state": state,
        "created_at": at(0),
        "queued_at": at(0),
        "admitted_at": at(3),
        "started_at": at(4),
        "finished_at": at(70),
        "executor": "local",
        **kw,
    }
    return EndedJob(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("module", [tallies, definitions])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0


def test_a_job_that_ran_counts_its_waits_and_run_in_seconds() -> None:
    t = tallies_of([ended()], [])
    assert t.counters["vatti_jobs_ended_total"] == {("succeeded", "command", "local"): 1.0}
    wait = t.histograms["vatti_job_admission_wait_seconds"][("command",)]
    start = t.histograms["vatti_job_submit_to_start_seconds"][("command", "local")]
    run = t.histograms["vatti_job_run_seconds"][("succeeded", "command", "local")]
    assert (wait.count, wait.total) == (1, 3.0)
    assert (start.count, start.total) == (1, 4.0)
    assert (run.count, run.total) == (1, 66.0)
    # 66 s falls in the (60, 120] bucket
    assert dict(run.cumulative())["60.0"] == 0.0
    assert dict(run.cumulative())["120.0"] == 1.0
    assert "vatti_job_failures_total" not in t.counters


def test_a_job_cancelled_in_the_queue_has_no_run_and_no_executor() -> None:
    job = ended(
        JobState.CANCELLED,
        admitted_at=None,
        started_at=None,
        executor=None,
        failure_code="cancelled",
    )
    t = tallies_of([job], [])
    assert t.counters["vatti_jobs_ended_total"] == {("cancelled", "command", "none"): 1.0}
    assert t.histograms == {}
    assert "vatti_job_failures_total" not in t.counters  # a cancellation is no failure
    assert "vatti_executor_errors_total" not in t.counters


def test_failures_by_kind_and_executor_errors_are_bounded() -> None:
    jobs = [
        ended(JobState.FAILED, failure_code="pipeline_failed"),
        ended(JobState.FAILED, failure_code="vanished", executor="slurm"),
        ended(JobState.FAILED, failure_code="vanished", executor="slurm"),
        ended(JobState.FAILED, failure_code="a_code_of_some_pipeline"),
    ]
    t = tallies_of(jobs, [])
    assert t.counters["vatti_job_failures_total"] == {
        ("command", "pipeline_failed"): 1.0,
        ("command", "vanished"): 2.0,
        ("command", "other"): 1.0,
    }
    assert t.counters["vatti_executor_errors_total"] == {("slurm", "vanished"): 2.0}


def test_pgs_match_rates_add_up_over_jobs() -> None:
    one = MatchRateSummary.of([1.0, 0.5], passed=1).to_dict()
    two = MatchRateSummary.of([0.97], passed=1).to_dict()
    jobs = [
        ended(pipeline="pgs", summary={SUMMARY_KEY: one}),
        ended(pipeline="pgs", summary={SUMMARY_KEY: two}),
        ended(pipeline="pgs", summary={SUMMARY_KEY: {"edges": [1], "counts": [9]}}),  # ignored
    ]
    t = tallies_of(jobs, [])
    rates = t.histograms["vatti_pgs_match_rate"][()]
    assert rates.count == 3
    assert rates.total == pytest.approx(2.47)
    cumulative = dict(rates.cumulative())
    assert (cumulative["0.5"], cumulative["0.99"], cumulative["1.0"]) == (1.0, 2.0, 3.0)
    assert t.counters["vatti_pgs_scores_total"] == {("passed",): 2.0, ("dropped",): 1.0}


def test_delivery_latency_by_destination_kind() -> None:
    t = tallies_of(
        [], [Delivery("webhook", at(0), at(0.2), 1), Delivery("webhook", at(0), at(7), 3)]
    )
    latency = t.histograms["vatti_outbox_delivery_latency_seconds"][("webhook",)]
    assert latency.count == 2
    assert latency.total == pytest.approx(7.2)
    assert dict(latency.cumulative())["0.25"] == 1.0


class Rows:
    """Ended jobs by end time, and the windows each fetch asked for."""

    def __init__(self) -> None:
        self.jobs: list[EndedJob] = []
        self.asked: list[tuple[datetime, datetime | None]] = []

    def fetch(self, since: datetime, until: datetime | None) -> Tallies:
        self.asked.append((since, until))
        rows = [
            j
            for j in self.jobs
            if j.finished_at >= since and (until is None or j.finished_at < until)
        ]
        return tallies_of(rows, [])


def ended_count(t: Tallies) -> float:
    return sum(t.counters.get("vatti_jobs_ended_total", {}).values())


def test_folding_counts_every_row_once_and_rereads_only_the_unsettled_ones() -> None:
    rows = Rows()
    folding = Folding(rows.fetch, lag_s=60)
    rows.jobs += [ended(finished_at=at(10)), ended(finished_at=at(100))]
    assert ended_count(folding.current(at(130))) == 2
    assert folding.settled_until == at(70)
    assert rows.asked == [(EPOCH, at(70)), (at(70), None)]
    # a job that ended within the lag but committed late is still counted
    rows.jobs.append(ended(finished_at=at(90)))
    for scrape in (140, 200, 1000):
        assert ended_count(folding.current(at(scrape))) == 3
    assert rows.asked[-2:] == [(at(200 - 60), at(1000 - 60)), (at(940), None)]


def test_folding_does_not_move_back_when_the_clock_does() -> None:
    rows = Rows()
    folding = Folding(rows.fetch, lag_s=60)
    rows.jobs.append(ended(finished_at=at(10)))
    assert ended_count(folding.current(at(500))) == 1
    assert ended_count(folding.current(at(100))) == 1
    assert folding.settled_until == at(440)
