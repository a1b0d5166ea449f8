"""The report's "Genetic ancestry" section: its counts are the popsimilarity table's, its
plots draw the panel by population with the targets, and large panels are subsampled."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs.ancestry.analysis import AncestryOptions
from vatti.pipelines.pgs.ancestry.normalise import Normalisation
from vatti.pipelines.pgs.ancestry.report_section import MAX_POINTS, TITLE, ancestry_section
from vatti.pipelines.pgs.ancestry.similarity import Method

pytestmark = pytest.mark.unit


def _popsim(n_ref: int, n_target: int, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pops = ["AFR", "EUR", "EAS"]
    n = n_ref + n_target
    target_pop = rng.choice(pops, n_target).tolist()
    low = rng.random(n_target) < 0.2
    return pl.DataFrame(
        {
            "sampleset": ["cohort"] * n_target + ["reference"] * n_ref,
            "IID": [f"s{k}" for k in range(n)],
            **{f"PC{k}": rng.normal(size=n) for k in range(1, 5)},
            "MostSimilarPop": target_pop + rng.choice(pops, n_ref).tolist(),
            "MostSimilarPop_LowConfidence": low.tolist() + [False] * n_ref,
            "REFERENCE": [False] * n_target + [True] * n_ref,
            "SuperPop": [None] * n_target + rng.choice(pops, n_ref).tolist(),
        }
    )


def _cells(markup: str) -> dict[str, tuple[int, int, int]]:
    rows = re.findall(
        r'<tr data-population="(\w+)"><td>\w+</td><td class="num" data-col="samples">(\d+)</td>'
        r'<td class="num" data-col="low_confidence">(\d+)</td>'
        r'<td class="num" data-col="reference">(\d+)</td></tr>',
        markup,
    )
    return {pop: (int(a), int(b), int(c)) for pop, a, b, c in rows}


def test_counts_are_the_targets_most_similar_populations() -> None:
    popsim = _popsim(300, 120)
    section = ancestry_section(popsim, "cohort", AncestryOptions())
    assert section.title == TITLE
    targets = popsim.filter(~pl.col("REFERENCE"))
    expected = {
        pop: (
            group.height,
            int(group["MostSimilarPop_LowConfidence"].sum()),
            popsim.filter(pl.col("SuperPop") == pop).height,
        )
        for (pop,), group in targets.group_by("MostSimilarPop")
    }
    assert _cells(section.html) == expected
    assert sum(v[1] for v in expected.values()) > 0, "the fixture has low-confidence samples"


def test_both_pc_pairs_draw_every_sample_of_a_small_panel() -> None:
    section = ancestry_section(_popsim(300, 120), "cohort", AncestryOptions())
    figures = re.findall(r'<figure class="pca" data-pcs="(PC\d,PC\d)">(.*?)</figure>', section.html)
    assert [pcs for pcs, _ in figures] == ["PC1,PC2", "PC3,PC4"]
    for _, figure in figures:
        assert figure.count('<circle class="emphasised"') == 120
        assert figure.count("<circle cx=") == 300 + 4  # the panel's points and 4 legend entries
        assert "drawn)" not in figure
    assert " style=" not in section.html
    assert "<script" not in section.html


def test_a_large_panel_is_subsampled_and_the_caption_says_so() -> None:
    n_ref = 3 * MAX_POINTS + 7
    popsim = _popsim(n_ref, 50)
    first = ancestry_section(popsim, "cohort", AncestryOptions())
    again = ancestry_section(popsim, "cohort", AncestryOptions())
    assert first == again, "the subsample is deterministic"
    figure = re.search(r'<figure class="pca" data-pcs="PC1,PC2">(.*?)</figure>', first.html)
    assert figure is not None
    assert figure[1].count("<circle cx=") == MAX_POINTS + 4
    assert f"({MAX_POINTS} of {n_ref} drawn)" in figure[1]
    # the counts are of every sample, not of the drawn ones
    cells = _cells(first.html)
    assert sum(v[0] for v in cells.values()) == 50
    assert (
        sum(v[2] for v in cells.values())
        == popsim.filter(pl.col("SuperPop").is_in(list(cells))).height
    )


def test_the_methods_used_are_named() -> None:
    options = AncestryOptions(
        method=Method.MAHALANOBIS,
        normalisation=(Normalisation.EMPIRICAL, Normalisation.MEAN),
        n_popcomp=3,
        p_threshold=0.01,
    )
    text = re.sub(r"<[^>]+>", " ", ancestry_section(_popsim(120, 10), "cohort", options).html)
    assert "Mahalanobis on PC1 to PC3" in text
    assert "low confidence below p = 0.01" in text
    assert "empirical, mean (PC regression on PC1 to PC4)" in text
    assert "mean+var" not in text
