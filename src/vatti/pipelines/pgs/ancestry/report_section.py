"""The report's "Genetic ancestry" section (pure): the reference panel's PCs coloured by
population with the target's samples on top, the target's most similar populations, and the
methods the analysis used; built from the analysis's ``popsimilarity`` table."""

from __future__ import annotations

import html

import numpy as np
import polars as pl

from vatti.pipelines.pgs.ancestry.analysis import AncestryOptions
from vatti.pipelines.pgs.html_report import ReportSection, scatter_svg

TITLE = "Genetic ancestry"
#: Points drawn per side (reference, target) in a PC plot: above it, an evenly spaced,
#: deterministic subsample is drawn (and the caption says so).
MAX_POINTS = 2000
#: The PC pairs plotted (when the table has them).
PC_PAIRS = ((1, 2), (3, 4))


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def subsample(n: int, at_most: int = MAX_POINTS) -> np.ndarray:
    """Row indices of an evenly spaced subsample of ``n`` rows (all of them up to ``at_most``).

    >>> subsample(5, 10).tolist(), subsample(10, 4).tolist()
    ([0, 1, 2, 3, 4], [0, 3, 6, 9])
    """
    if n <= at_most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, at_most).round().astype(np.int64))


def _points(table: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    rows = subsample(table.height)
    note = "" if rows.size == table.height else f" ({rows.size} of {table.height} drawn)"
    return table[rows.tolist()], note


def _plots(popsim: pl.DataFrame, target: str, label: str) -> str:
    reference = popsim.filter(pl.col("REFERENCE"))
    targets = popsim.filter(~pl.col("REFERENCE"))
    ref_points, ref_note = _points(reference.sort(label, maintain_order=True))
    target_points, target_note = _points(targets)
    target_group = target
    groups = [*ref_points[label].cast(pl.Utf8).fill_null("?").to_list()]
    groups += [target_group] * target_points.height
    figures = []
    for a, b in PC_PAIRS:
        x_name, y_name = f"PC{a}", f"PC{b}"
        if x_name not in popsim.columns or y_name not in popsim.columns:
            continue
        xs = [*ref_points[x_name].cast(pl.Float64), *target_points[x_name].cast(pl.Float64)]
        ys = [*ref_points[y_name].cast(pl.Float64), *target_points[y_name].cast(pl.Float64)]
        svg = scatter_svg(xs, ys, groups, x_name, y_name, emphasised=target_group)
        figures.append(
            f'<figure class="pca" data-pcs="{x_name},{y_name}">{svg}<figcaption>'
            f"<strong>{y_name} by {x_name}</strong>: reference panel by {_e(label)}"
            f"{_e(ref_note)}, {_e(target)} samples outlined{_e(target_note)}.</figcaption>"
            "</figure>"
        )
    return f'<div class="plots">{"".join(figures)}</div>'


def _counts_table(popsim: pl.DataFrame, label: str) -> str:
    targets = popsim.filter(~pl.col("REFERENCE"))
    counts = (
        targets.group_by("MostSimilarPop")
        .agg(
            pl.len().alias("samples"),
            pl.col("MostSimilarPop_LowConfidence").cast(pl.Int64).sum().alias("low"),
        )
        .sort("MostSimilarPop")
    )
    panel = popsim.filter(pl.col("REFERENCE")).group_by(label).len()
    in_panel = dict(zip(panel[label].to_list(), panel["len"].to_list(), strict=True))
    rows = "".join(
        f'<tr data-population="{_e(r["MostSimilarPop"])}"><td>{_e(r["MostSimilarPop"])}</td>'
        f'<td class="num" data-col="samples">{r["samples"]}</td>'
        f'<td class="num" data-col="low_confidence">{r["low"]}</td>'
        f'<td class="num" data-col="reference">{in_panel.get(r["MostSimilarPop"], 0)}</td></tr>'
        for r in counts.iter_rows(named=True)
    )
    return (
        '<table class="popsimilarity"><thead><tr><th scope="col">most similar population</th>'
        '<th scope="col">target samples</th><th scope="col">of them low confidence</th>'
        f'<th scope="col">reference samples ({_e(label)})</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _methods(options: AncestryOptions) -> str:
    threshold = (
        options.method.default_threshold if options.p_threshold is None else options.p_threshold
    )
    items = {
        "population similarity": f"{options.method.value} on PC1 to PC{options.n_popcomp}, "
        f"seed {options.seed}, low confidence below p = {threshold:g}",
        "normalisation": ", ".join(m.value for m in options.normalisation)
        + f" (PC regression on PC1 to PC{options.n_normalisation})",
        "population label": options.population_label,
    }
    body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items.items())
    return f'<dl class="meta ancestry-methods">{body}</dl>'


def ancestry_section(popsim: pl.DataFrame, target: str, options: AncestryOptions) -> ReportSection:
    """The section of the analysis whose ``popsimilarity`` table is ``popsim``."""
    label = options.population_label
    n_ref = int(popsim["REFERENCE"].sum())
    intro = (
        f'<p class="muted">{popsim.height - n_ref} {_e(target)} samples projected on the PCA '
        f"of {n_ref} reference panel samples; each is given its most similar population. "
        "The normalised scores are in the <code>*_pgs.txt.gz</code> file.</p>"
    )
    return ReportSection(
        TITLE,
        intro + _plots(popsim, target, label) + _counts_table(popsim, label) + _methods(options),
    )
