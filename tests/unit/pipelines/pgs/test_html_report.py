"""report.html's rendering: escaping, the plot threshold, the policy, added sections."""

from __future__ import annotations

import base64
import hashlib
import html
import re

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs.html_report import (
    MIN_PLOT_SAMPLES,
    ReportInputs,
    ReportSection,
    ScoreFileInfo,
    histogram_svg,
    render_report,
    scatter_svg,
)

pytestmark = pytest.mark.unit


def _summary(accessions: list[str], passed: list[bool]) -> pl.DataFrame:
    n = len(accessions)
    return pl.DataFrame(
        {
            "sampleset": ["cohort"] * n,
            "accession": accessions,
            "n_variants": [10] * n,
            "n_matched": [9 if p else 1 for p in passed],
            "match_rate": [0.9 if p else 0.1 for p in passed],
            "min_overlap": [0.75] * n,
            "passed": passed,
        }
    )


def _scores(accession: str, n: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "sampleset": ["cohort"] * n,
            "IID": [f"s{k}" for k in range(n)],
            "PGS": [accession] * n,
            "SUM": rng.normal(size=n),
        }
    )


def _inputs(**kw: object) -> ReportInputs:
    base: dict[str, object] = {
        "scorefiles": [ScoreFileInfo("PGS1", "PGS1.txt", {"trait_reported": "height"}, 10)],
        "summary": _summary(["PGS1"], [True]),
        "scores": _scores("PGS1", 200),
        "parameters": {"min_overlap": 0.75},
        "versions": {"vatti": "1"},
    }
    base.update(kw)
    return ReportInputs(**base)  # type: ignore[arg-type]


def test_text_from_the_inputs_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    page = render_report(
        _inputs(
            scorefiles=[ScoreFileInfo(evil, "a.txt", {"trait_reported": evil}, 10)],
            summary=_summary([evil], [True]),
            scores=_scores(evil, 60),
        )
    )
    assert "<script" not in page
    assert "&lt;script&gt;" in page


def test_a_small_sampleset_gets_no_histogram() -> None:
    small = render_report(_inputs(scores=_scores("PGS1", MIN_PLOT_SAMPLES - 1)))
    large = render_report(_inputs(scores=_scores("PGS1", MIN_PLOT_SAMPLES)))
    assert 'class="histogram"' not in small
    assert f"fewer than {MIN_PLOT_SAMPLES}" in small
    assert large.count('class="histogram"') == 1


def test_failed_scores_are_marked_and_named() -> None:
    page = render_report(_inputs(summary=_summary(["PGS1", "PGS2"], [True, False])))
    assert '<tr class="failed" data-sampleset="cohort" data-accession="PGS2">' in page
    assert "Not computed (failed): PGS2 in cohort." in page
    assert "1 score(s)" in page


def test_the_policy_allows_exactly_the_inline_stylesheet() -> None:
    page = render_report(_inputs())
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    policy = html.unescape(re.search(r'Content-Security-Policy" content="([^"]*)"', page)[1])
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert " style=" not in page, "style attributes would be blocked by the policy"
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_histogram_bars_count_every_finite_value() -> None:
    values = np.array([0.0, 1.0, 1.0, 2.0, np.nan, 3.0] * 20)
    svg = histogram_svg(values, "x")
    counts = [int(c) for c in re.findall(r'data-count="(\d+)"', svg)]
    assert sum(counts) == 100


def test_an_added_section_is_shown_with_its_plot() -> None:
    plot = scatter_svg([0.1, 0.2, 0.3], [1.0, 2.0, 0.5], ["EUR", "AFR", "target"], "PC1", "PC2")
    page = render_report(_inputs(sections=[ReportSection("Genetic ancestry", plot)]))
    assert '<section id="genetic-ancestry"><h2>Genetic ancestry</h2><svg class="scatter"' in page
    assert page.count("<circle") == 6  # 3 points and 3 legend entries
    assert page.index("Genetic ancestry") < page.index("<h2>Parameters</h2>")
