"""The prometheus-client collector over the job store (imported by ``/metrics`` only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from vatti.domain.states import JobState
from vatti.domain.times import utcnow
from vatti.metrics.definitions import BY_NAME, METRICS
from vatti.metrics.tallies import Folding, Tallies, tallies_of
from vatti.store.base import JobStore


class StoreCollector(Collector):
    """Reads the figures of ``store`` at each scrape (see :mod:`vatti.metrics`)."""

    def __init__(
        self,
        store: JobStore,
        *,
        lag_s: float = 120.0,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._now = now
        self._folding = Folding(self._fetch, lag_s=lag_s)

    def _fetch(self, since: datetime, until: datetime | None) -> Tallies:
        return tallies_of(
            self._store.jobs_ended_between(since, until),
            self._store.deliveries_between(since, until),
        )

    def collect(self) -> Iterator[Metric]:
        now = self._now()
        counts = self._store.job_counts_by_state_and_pipeline()
        backlog = self._store.outbox_backlog()
        tallies = self._folding.current(now)

        jobs = _gauge("vatti_jobs")
        for (state, pipeline), n in sorted(counts.items()):
            jobs.add_metric([state.value, pipeline], n)
        yield jobs
        queued = sum(n for (state, _), n in counts.items() if state is JobState.QUEUED)
        yield _gauge("vatti_queue_depth", queued)

        pending = _gauge("vatti_outbox_pending")
        oldest = _gauge("vatti_outbox_oldest_pending_age_seconds")
        delivered = _counter("vatti_outbox_delivered_total")
        dead = _counter("vatti_outbox_dead_total")
        attempts = _counter("vatti_outbox_delivery_attempts_total")
        for b in backlog:
            pending.add_metric([b.channel], b.pending)
            at = b.oldest_pending_at
            oldest.add_metric(
                [b.channel], 0.0 if at is None else max((now - at).total_seconds(), 0)
            )
            delivered.add_metric([b.channel], b.delivered)
            dead.add_metric([b.channel], b.dead)
            attempts.add_metric([b.channel], b.attempts)
        yield from (pending, oldest, delivered, dead, attempts)

        for metric in METRICS:
            if metric.kind == "counter" and metric.name in _TALLIED_COUNTERS:
                family = _counter(metric.name)
                for labels, value in sorted(tallies.counters.get(metric.name, {}).items()):
                    family.add_metric(list(labels), value)
                yield family
            elif metric.kind == "histogram":
                hist = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
                for labels, h in sorted(tallies.histograms.get(metric.name, {}).items()):
                    hist.add_metric(list(labels), h.cumulative(), h.total)
                yield hist


#: the counters of ended jobs (the others are read from the outbox's totals)
_TALLIED_COUNTERS = frozenset(
    {
        "vatti_jobs_ended_total",
        "vatti_job_failures_total",
        "vatti_executor_errors_total",
        "vatti_pgs_scores_total",
    }
)


def _gauge(name: str, value: float | None = None) -> GaugeMetricFamily:
    metric = BY_NAME[name]
    if value is not None:
        return GaugeMetricFamily(name, metric.help, value=value)
    return GaugeMetricFamily(name, metric.help, labels=metric.labels)


def _counter(name: str) -> CounterMetricFamily:
    metric = BY_NAME[name]
    return CounterMetricFamily(name.removesuffix("_total"), metric.help, labels=metric.labels)


def store_registry(store: JobStore) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) holding :class:`StoreCollector`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry
