"""A ``pgs`` job's match rates in a bounded summary: how many scores matched how well.

The runtime reports each job's rates (one per sampleset and score) as counts per bucket of
:data:`MATCH_RATE_EDGES`, whatever the number of scores, in the outcome's ``summary`` under
:data:`SUMMARY_KEY`; the engine keeps it in the ``succeeded`` event, and ``/metrics`` adds the
jobs' counts up into one histogram. No score or job is named in it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: the upper edges of the buckets (a rate r counts in the first bucket with r <= edge)
MATCH_RATE_EDGES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
#: the key of the outcome's (and the succeeded event's) summary that holds it
SUMMARY_KEY = "pgs_match"


@dataclass(frozen=True)
class MatchRateSummary:
    """``counts[i]``: scores whose rate is in bucket ``i`` (not cumulative); ``total``: the sum
    of the rates; ``passed``: the scores that reached min_overlap and were computed."""

    counts: tuple[int, ...]
    total: float
    passed: int

    @property
    def scores(self) -> int:
        return sum(self.counts)

    @classmethod
    def of(cls, rates: Iterable[float | None], passed: int) -> MatchRateSummary:
        """The summary of ``rates`` (None or NaN, a score without variants, counts as 0).

        >>> s = MatchRateSummary.of([1.0, 0.93, 0.05, float("nan")], passed=2)
        >>> s.counts, s.scores, round(s.total, 2)
        ((2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1), 4, 1.98)
        """
        counts = [0] * len(MATCH_RATE_EDGES)
        total = 0.0
        for rate in rates:
            value = 0.0 if rate is None or math.isnan(rate) else min(max(rate, 0.0), 1.0)
            counts[bisect.bisect_left(MATCH_RATE_EDGES, value)] += 1
            total += value
        return cls(tuple(counts), total, passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": list(MATCH_RATE_EDGES),
            "counts": list(self.counts),
            "sum": self.total,
            "passed": self.passed,
        }

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any] | None) -> MatchRateSummary | None:
        """The summary a job reported, or None when it has none or one of other edges.

        >>> s = MatchRateSummary.of([0.5], passed=1)
        >>> MatchRateSummary.from_summary({SUMMARY_KEY: s.to_dict()}) == s
        True
        >>> MatchRateSummary.from_summary({SUMMARY_KEY: {"edges": [1.0], "counts": [1]}}) is None
        True
        """
        raw = (summary or {}).get(SUMMARY_KEY)
        if not isinstance(raw, Mapping):
            return None
        try:
            edges = tuple(float(e) for e in raw["edges"])
            counts = tuple(int(c) for c in raw["counts"])
            total = float(raw["sum"])
            passed = int(raw["passed"])
        except (KeyError, TypeError, ValueError):
            return None
        if edges != MATCH_RATE_EDGES or len(counts) != len(edges) or min(counts) < 0:
            return None
        return cls(counts, total, passed)
