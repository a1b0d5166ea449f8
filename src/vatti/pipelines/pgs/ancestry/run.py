"""The ancestry analysis from files to files (``pgscatalog-ancestry-adjust``'s inputs and
outputs), and on a reference panel for ``vatti pgs score --ancestry``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from vatti.pipelines.pgs.ancestry.analysis import AncestryOptions, AncestryResult, adjust
from vatti.pipelines.pgs.ancestry.files import (
    read_aggregated_scores,
    read_pcs,
    read_population_labels,
    read_related,
    write_json,
    write_table,
)


@dataclass(frozen=True)
class PcInputs:
    """The inputs ``pgscatalog-ancestry-adjust`` takes: the PCs of the reference and the
    target, the reference's labels and relatedness list, the aggregated scores of both."""

    ref_pcs: Path
    target_pcs: Path
    psam: Path
    related: Path | None
    scores: Path
    target: str


def outputs(out_dir: Path, target: str) -> tuple[Path, Path, Path]:
    """The files the analysis writes: ``<target>_pgs.txt.gz``, ``_popsimilarity.txt.gz``,
    ``_info.json.gz``."""
    return (
        out_dir / f"{target}_pgs.txt.gz",
        out_dir / f"{target}_popsimilarity.txt.gz",
        out_dir / f"{target}_info.json.gz",
    )


def write_result(result: AncestryResult, out_dir: Path) -> list[Path]:
    pgs, popsim, info = outputs(out_dir, result.target)
    write_table(result.pgs, pgs)
    write_table(result.popsimilarity, popsim)
    write_json(result.models, info)
    return [pgs, popsim, info]


def adjust_files(
    inputs: PcInputs, out_dir: Path, options: AncestryOptions = AncestryOptions()
) -> AncestryResult:
    """Read the inputs, run the analysis, write its outputs in ``out_dir``."""
    scores = read_aggregated_scores(inputs.scores)
    result = adjust(
        read_pcs(inputs.ref_pcs),
        read_population_labels(inputs.psam, options.population_label),
        read_related(inputs.related),
        read_pcs(inputs.target_pcs),
        inputs.target,
        scores,
        options,
    )
    write_result(result, out_dir)
    return result


def scores_table(scores: pl.DataFrame) -> pl.DataFrame:
    """``sampleset FID IID PGS SUM`` of the scores ``calculate`` returns."""
    return scores.select("sampleset", "FID", "IID", "PGS", pl.col("SUM").cast(pl.Float64))
