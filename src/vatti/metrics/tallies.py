"""Counters and histograms from the records of ended jobs and delivered notifications (pure).

:class:`Folding` keeps what settled (ended more than ``lag`` ago) in memory and reads only the
rest at each scrape, so a scrape costs the last minutes' rows, not the whole history. A row is
folded in once: rows are read by time windows ``[since, until)`` that do not overlap. ``lag``
covers the time between a row's timestamp and its commit (and the clocks' skew between hosts).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from vatti.domain.match_rates import MatchRateSummary
from vatti.domain.states import JobState
from vatti.metrics.definitions import (
    BY_NAME,
    EXECUTOR_ERROR_KINDS,
    NO_EXECUTOR,
    failure_kind,
)
from vatti.store.base import Delivery, EndedJob

Labels = tuple[str, ...]
#: the start of every history
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Histogram:
    """Counts per bucket of ``edges`` (not cumulative; the last one: above every edge)."""

    edges: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.edges) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.edges, value)] += 1
        self.total += value

    def add(self, counts: Sequence[int], total: float) -> None:
        for i, n in enumerate(counts):
            self.counts[i] += n
        self.total += total

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        """Prometheus's buckets: (upper edge, observations at or below it), +Inf last.

        >>> h = Histogram((1.0, 10.0))
        >>> for v in (0.5, 1.0, 3.0, 20.0):
        ...     h.observe(v)
        >>> h.cumulative()
        [('1.0', 2.0), ('10.0', 3.0), ('+Inf', 4.0)]
        """
        out, running = [], 0
        for edge, n in zip((*map(str, self.edges), "+Inf"), self.counts, strict=True):
            running += n
            out.append((edge, float(running)))
        return out


@dataclass
class Tallies:
    """Counter values and histograms by metric name and label values."""

    counters: dict[str, dict[Labels, float]] = field(default_factory=dict)
    histograms: dict[str, dict[Labels, Histogram]] = field(default_factory=dict)

    def count(self, name: str, labels: Labels, n: float = 1.0) -> None:
        series = self.counters.setdefault(name, {})
        series[labels] = series.get(labels, 0.0) + n

    def histogram(self, name: str, labels: Labels) -> Histogram:
        series = self.histograms.setdefault(name, {})
        if labels not in series:
            series[labels] = Histogram(BY_NAME[name].edges)
        return series[labels]

    def add(self, other: Tallies) -> None:
        for name, series in other.counters.items():
            for labels, value in series.items():
                self.count(name, labels, value)
        for name, hists in other.histograms.items():
            for labels, h in hists.items():
                self.histogram(name, labels).add(h.counts, h.total)

    def merged(self, other: Tallies) -> Tallies:
        out = Tallies()
        out.add(self)
        out.add(other)
        return out


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def tally_job(t: Tallies, job: EndedJob) -> None:
    """Count one ended job in every metric it belongs to."""
    executor = job.executor or NO_EXECUTOR
    t.count("vatti_jobs_ended_total", (job.state.value, job.pipeline, executor))
    waited = _seconds(job.queued_at or job.created_at, job.admitted_at)
    if waited is not None:
        t.histogram("vatti_job_admission_wait_seconds", (job.pipeline,)).observe(waited)
    to_start = _seconds(job.created_at, job.started_at)
    if to_start is not None:
        t.histogram("vatti_job_submit_to_start_seconds", (job.pipeline, executor)).observe(to_start)
    ran = _seconds(job.started_at, job.finished_at)
    if ran is not None:
        labels = (job.state.value, job.pipeline, executor)
        t.histogram("vatti_job_run_seconds", labels).observe(ran)
    if job.failure_code is not None and job.state is JobState.FAILED:
        kind = failure_kind(job.failure_code)
        t.count("vatti_job_failures_total", (job.pipeline, kind))
        if kind in EXECUTOR_ERROR_KINDS:
            t.count("vatti_executor_errors_total", (executor, kind))
    rates = MatchRateSummary.from_summary(job.summary)
    if rates is not None:
        t.histogram("vatti_pgs_match_rate", ()).add([*rates.counts, 0], rates.total)
        t.count("vatti_pgs_scores_total", ("passed",), rates.passed)
        t.count("vatti_pgs_scores_total", ("dropped",), rates.scores - rates.passed)


def tally_delivery(t: Tallies, delivery: Delivery) -> None:
    latency = _seconds(delivery.created_at, delivery.delivered_at)
    assert latency is not None
    t.histogram("vatti_outbox_delivery_latency_seconds", (delivery.channel,)).observe(latency)


def tallies_of(jobs: Iterable[EndedJob], deliveries: Iterable[Delivery]) -> Tallies:
    t = Tallies()
    for job in jobs:
        tally_job(t, job)
    for delivery in deliveries:
        tally_delivery(t, delivery)
    return t


Fetch = Callable[[datetime, datetime | None], Tallies]


class Folding:
    """The tallies of every row up to now: those settled (older than ``lag_s``) kept, the
    rest read again at each call. ``fetch(since, until)`` tallies the rows of ``[since,
    until)`` (``until`` None: up to now). Thread-safe."""

    def __init__(self, fetch: Fetch, *, lag_s: float = 120.0, since: datetime = EPOCH) -> None:
        self._fetch = fetch
        self._lag = timedelta(seconds=lag_s)
        self._settled = Tallies()
        self._until = since
        self._lock = threading.Lock()

    @property
    def settled_until(self) -> datetime:
        return self._until

    def current(self, now: datetime) -> Tallies:
        with self._lock:
            settle = now - self._lag
            if settle > self._until:
                self._settled.add(self._fetch(self._until, settle))
                self._until = settle
            return self._settled.merged(self._fetch(self._until, None))
