"""Every metric ``/metrics`` serves: name, type, labels and help (the README's table too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vatti.domain.failure import FailureCode
from vatti.domain.match_rates import MATCH_RATE_EDGES

Kind = Literal["gauge", "counter", "histogram"]

#: durations of jobs, seconds: a tenth of a second to a day
DURATION_EDGES: tuple[float, ...] = (
    *(0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0),
    *(1800.0, 3600.0, 7200.0, 21600.0, 86400.0),
)
#: delivery latency of notifications, seconds
DELIVERY_EDGES = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)

#: failure codes that are an executor's doing (the job's process vanished, never started, or
#: vatti's runtime broke), as opposed to the pipeline's, a limit's or a caller's
EXECUTOR_ERROR_KINDS = frozenset(
    {FailureCode.VANISHED, FailureCode.PROVISION_FAILED, FailureCode.INTERNAL}
)
#: a failure code outside vatti's own (a pipeline's) is reported as this kind
OTHER_KIND = "other"
#: the executor label of a job that never reached one (cancelled or timed out in the queue)
NO_EXECUTOR = "none"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str
    edges: tuple[float, ...] = ()


METRICS: tuple[Metric, ...] = (
    Metric("vatti_jobs", "gauge", ("state", "pipeline"), "Jobs in each state, by pipeline."),
    Metric("vatti_queue_depth", "gauge", (), "Jobs queued, waiting for admission."),
    Metric(
        "vatti_jobs_ended_total",
        "counter",
        ("state", "pipeline", "executor"),
        "Jobs that ended (succeeded, failed, cancelled).",
    ),
    Metric(
        "vatti_job_submit_to_start_seconds",
        "histogram",
        ("pipeline", "executor"),
        "From submission to running, of jobs that ran (observed when they end).",
        DURATION_EDGES,
    ),
    Metric(
        "vatti_job_admission_wait_seconds",
        "histogram",
        ("pipeline",),
        "From queued to admitted under the concurrency limit (observed when the job ends).",
        DURATION_EDGES,
    ),
    Metric(
        "vatti_job_run_seconds",
        "histogram",
        ("state", "pipeline", "executor"),
        "From running to ended, of jobs that ran.",
        DURATION_EDGES,
    ),
    Metric(
        "vatti_job_failures_total",
        "counter",
        ("pipeline", "kind"),
        "Jobs that failed, by failure code (a pipeline's own codes: other).",
    ),
    Metric(
        "vatti_executor_errors_total",
        "counter",
        ("executor", "kind"),
        "Jobs lost to their executor: kind vanished, provision_failed or internal.",
    ),
    Metric(
        "vatti_outbox_pending",
        "gauge",
        ("destination_kind",),
        "Notifications waiting for delivery (the outbox backlog).",
    ),
    Metric(
        "vatti_outbox_oldest_pending_age_seconds",
        "gauge",
        ("destination_kind",),
        "Age of the oldest notification waiting for delivery (0: none waits).",
    ),
    Metric(
        "vatti_outbox_delivered_total",
        "counter",
        ("destination_kind",),
        "Notifications delivered.",
    ),
    Metric(
        "vatti_outbox_dead_total",
        "counter",
        ("destination_kind",),
        "Notifications given up on after their last attempt.",
    ),
    Metric(
        "vatti_outbox_delivery_attempts_total",
        "counter",
        ("destination_kind",),
        "Delivery attempts made, successful or not.",
    ),
    Metric(
        "vatti_outbox_delivery_latency_seconds",
        "histogram",
        ("destination_kind",),
        "From the state change to its notification's delivery (retries included).",
        DELIVERY_EDGES,
    ),
    Metric(
        "vatti_pgs_match_rate",
        "histogram",
        (),
        "Variant match rate of each score and sampleset of the pgs jobs that succeeded.",
        MATCH_RATE_EDGES,
    ),
    Metric(
        "vatti_pgs_scores_total",
        "counter",
        ("state",),
        "Scores of succeeded pgs jobs: state passed (computed) or dropped (below min_overlap).",
    ),
)

BY_NAME = {m.name: m for m in METRICS}


def failure_kind(code: str) -> str:
    """A failure code as a bounded label value.

    >>> failure_kind("timeout"), failure_kind("my_pipeline_code")
    ('timeout', 'other')
    """
    return code if code in set(FailureCode) else OTHER_KIND
