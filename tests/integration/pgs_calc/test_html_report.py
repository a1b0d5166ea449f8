"""``report.html`` rendered in a real browser (Debian's headless chromium, driven by Playwright):
what a person opening it sees agrees with ``match_summary.tsv`` and the scores, and the page asks
for nothing outside itself.

The run: the PGS Catalog Calculator's CINECA data (2,504 samples) as two samplesets (PLINK 2 and
PLINK 1), scored with PGS001229_22 (passes, 782 of 835 variants) and pgsc_calc's
``customgrch37.txt`` (fails: none of its 2 variants is on chr22). The screenshot is kept in
``$VATTI_REPORT_SCREENSHOT`` when that is set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from vatti.pipelines.pgs.orchestration import REPORT_NAME, SUMMARY_TSV, CalcOptions, calculate
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset
from vatti.testing.browser import chromium
from vatti.testing.services import shared_pgs_data

pytestmark = [pytest.mark.integration, pytest.mark.browser]

EXAMPLES = "pgsc_calc/assets/examples"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = shared_pgs_data() / EXAMPLES
    prefix = data / "target_genomes/cineca_synthetic_subset"
    out = tmp_path_factory.mktemp("report")
    calculate(
        [data / "scorefiles/PGS001229_22.txt", data / "scorefiles/customgrch37.txt"],
        [
            Sampleset("cineca", [GenotypeFile.from_prefix("pfile", prefix)]),
            Sampleset("cinecab", [GenotypeFile.from_prefix("bfile", prefix)]),
        ],
        CalcOptions("GRCh37"),
        out,
    )
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def page(browser: Any, run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The report opened in the browser, with every request and console message it made."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    requests: list[str] = []
    console: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    tab.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    url = (run / REPORT_NAME).as_uri()
    tab.goto(url, wait_until="load")
    shot = tmp_path_factory.mktemp("shot") / "report.png"
    tab.screenshot(path=str(shot), full_page=True)
    if os.environ.get("VATTI_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["VATTI_REPORT_SCREENSHOT"])
    yield {"tab": tab, "url": url, "requests": requests, "console": console, "shot": shot}
    context.close()


def test_the_page_asks_for_nothing_and_breaks_no_rule(page: dict) -> None:
    assert page["requests"] == [page["url"]], "the report must be self-contained"
    assert page["console"] == [], "no CSP violation or error may be logged"
    policy = (
        page["tab"].locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    )
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    # the stylesheet applied (allowed by its hash): table headers have their grey background
    colour = page["tab"].eval_on_selector(
        "table.summary th", "e => getComputedStyle(e).backgroundColor"
    )
    assert colour == "rgb(246, 248, 250)"
    assert page["shot"].stat().st_size > 20_000


def _shown(text: str, value: Any) -> bool:
    if isinstance(value, bool):
        return text == ("passed" if value else "failed")
    if isinstance(value, float):
        return abs(float(text) - value) <= 1e-5 * max(abs(value), 1e-12)
    return text == str(value)


def test_the_match_table_shows_match_summary_tsv(page: dict, run: Path) -> None:
    summary = pl.read_csv(run / SUMMARY_TSV, separator="\t")
    rows = page["tab"].locator("table.summary tbody tr")
    assert rows.count() == summary.height == 4
    for k, expected in enumerate(summary.iter_rows(named=True)):
        row = rows.nth(k)
        assert row.get_attribute("data-sampleset") == expected["sampleset"]
        assert row.get_attribute("data-accession") == expected["accession"]
        for column, value in expected.items():
            text = row.locator(f'td[data-col="{column}"]').inner_text().strip()
            assert _shown(text, value), (expected["accession"], column, text, value)
    cineca = summary.filter(pl.col("accession") == "PGS001229").row(0, named=True)
    assert (cineca["n_matched"], cineca["n_variants"], cineca["passed"]) == (782, 835, True)
    assert summary.filter(pl.col("accession") == "custom")["passed"].to_list() == [False, False]


def test_each_computed_score_has_its_distribution(page: dict) -> None:
    tab = page["tab"]
    figures = tab.locator("figure")
    assert figures.count() == 2  # PGS001229 in both samplesets; custom failed, not drawn
    for k in range(figures.count()):
        figure = figures.nth(k)
        assert figure.get_attribute("data-accession") == "PGS001229"
        counts = figure.locator("rect.bar").evaluate_all(
            "bars => bars.map(b => Number(b.dataset.count))"
        )
        assert sum(counts) == 2504, "every sample is in the histogram"
        assert len(counts) >= 10
        box = figure.locator("svg").bounding_box()
        assert box["width"] > 300, "the plot is drawn at its size"
        assert box["height"] > 200
    failed = tab.locator("#score-distributions").inner_text()
    assert "custom in cineca," in failed
    assert "custom in cinecab." in failed


def test_scoring_files_versions_and_parameters_are_listed(page: dict) -> None:
    tab = page["tab"]
    files = tab.locator("#scoring-files").inner_text()
    assert "PGS001229_22.txt" in files
    assert "customgrch37.txt" in files
    assert "Standing height" in files
    params = tab.locator("table.parameters").inner_text()
    assert "min_overlap\t0.75" in params
    assert "target_build\tGRCh37" in params
    assert "variant_filter" not in params, "internal hooks are not the user's parameters"
    assert tab.locator("#genetic-ancestry").count() == 0, "no ancestry analysis ran"
    versions = tab.locator("table.versions").inner_text()
    assert "polars\t" in versions
    assert f"vatti\t{metadata.version('vatti')}" in versions
