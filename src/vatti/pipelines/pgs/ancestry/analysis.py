"""The ancestry analysis on tables (pure): PCs, labels and scores in, pgsc_calc's
``*_pgs.txt.gz`` and ``*_popsimilarity.txt.gz`` tables out (``pgscatalog-ancestry-adjust``).

The reference's PCs table drives its samples (in its order, which the RandomForest's bootstrap
depends on); its samples need a population label, and every sample with PCs needs a score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from vatti.pipelines.pgs.ancestry.files import AncestryInputError
from vatti.pipelines.pgs.ancestry.normalise import (
    ALL_METHODS,
    Normalisation,
    Panel,
    adjust_score,
)
from vatti.pipelines.pgs.ancestry.similarity import (
    RF_SEED,
    Assignment,
    Method,
    Reference,
    assign_populations,
)

REFERENCE_NAME = "reference"
#: A reference panel smaller than this is refused (pgsc_calc's input check).
MIN_REFERENCE_SAMPLES = 100
#: PCs written to popsimilarity (at least; more when the analysis uses more).
WRITTEN_PCS = 10


@dataclass(frozen=True)
class AncestryOptions:
    """pgsc_calc's ``--ancestry_method``, ``--n_popcomp``, ``--pval_threshold``,
    ``--normalization_method``, ``--n_normalization`` and ``--ref_label``."""

    method: Method = Method.RANDOM_FOREST
    n_popcomp: int = 5
    p_threshold: float | None = None
    normalisation: tuple[Normalisation, ...] = ALL_METHODS
    n_normalisation: int = 4
    population_label: str = "SuperPop"
    seed: int = RF_SEED

    def __post_init__(self) -> None:
        for name in ("n_popcomp", "n_normalisation"):
            if not 1 <= getattr(self, name) <= 20:
                raise ValueError(f"{name} must be between 1 and 20")
        if self.p_threshold is not None and not 0 < self.p_threshold < 1:
            raise ValueError(f"the p threshold must be in (0, 1), not {self.p_threshold}")


@dataclass
class AncestryResult:
    target: str
    pgs: pl.DataFrame
    popsimilarity: pl.DataFrame
    models: dict[str, Any] = field(default_factory=dict)


def _pc_matrix(table: pl.DataFrame, n: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    return table.select([f"PC{k + 1}" for k in range(n)]).to_numpy().astype(np.float64)


def _scores_of(
    scores: pl.DataFrame, sampleset: str, samples: pl.DataFrame, what: str
) -> tuple[list[str], dict[str, np.ndarray[Any, np.dtype[np.float64]]]]:
    """Each score's sums in the order of ``samples`` (FID, IID)."""
    mine = scores.filter(pl.col("sampleset") == sampleset)
    names = list(dict.fromkeys(mine["PGS"].to_list()))
    out = {}
    for name in names:
        joined = samples.select("FID", "IID").join(
            mine.filter(pl.col("PGS") == name).select("FID", "IID", "SUM"),
            on=["FID", "IID"],
            how="left",
            maintain_order="left",
        )
        if joined["SUM"].null_count():
            lacking = joined.filter(pl.col("SUM").is_null())["IID"].head(3).to_list()
            raise AncestryInputError(
                f"no {name} score for {joined['SUM'].null_count()} {what} sample(s) with PCs "
                f"(e.g. {', '.join(lacking)})"
            )
        out[name] = joined["SUM"].to_numpy().astype(np.float64)
    return names, out


def adjust(
    ref_pcs: pl.DataFrame,
    labels: Mapping[str, str],
    related: set[str],
    target_pcs: pl.DataFrame,
    target: str,
    scores: pl.DataFrame,
    options: AncestryOptions = AncestryOptions(),
) -> AncestryResult:
    """The most similar population of each sample and the adjusted scores."""
    if target == REFERENCE_NAME:
        raise AncestryInputError(f"the target sampleset cannot be named {REFERENCE_NAME!r}")
    n_ref_pcs = sum(c.startswith("PC") for c in ref_pcs.columns)
    n_target_pcs = sum(c.startswith("PC") for c in target_pcs.columns)
    needed = max(options.n_popcomp, options.n_normalisation)
    if min(n_ref_pcs, n_target_pcs) < needed:
        raise AncestryInputError(
            f"{needed} PCs are needed, the PCs files have {n_ref_pcs}/{n_target_pcs}"
        )
    iids = ref_pcs["IID"].to_list()
    unlabelled = [i for i in iids if i not in labels]
    if unlabelled:
        raise AncestryInputError(
            f"{len(unlabelled)} reference sample(s) have no {options.population_label} label "
            f"(e.g. {', '.join(unlabelled[:3])})"
        )
    if len(iids) < MIN_REFERENCE_SAMPLES:
        raise AncestryInputError(
            f"the reference has {len(iids)} samples with PCs; at least {MIN_REFERENCE_SAMPLES} "
            "are needed for population distributions"
        )
    names, ref_scores = _scores_of(scores, REFERENCE_NAME, ref_pcs, "reference")
    target_names, target_scores = _scores_of(scores, target, target_pcs, "target")
    if not names or set(target_names) != set(names):
        raise AncestryInputError(
            f"the reference and {target} are not scored with the same scores "
            f"({', '.join(names) or 'none'} / {', '.join(target_names) or 'none'})"
        )
    ref_labels = [labels[i] for i in iids]
    train = np.array([i not in related for i in iids], dtype=np.bool_)
    n_kept = max(WRITTEN_PCS, needed)
    ref_x, target_x = (
        _pc_matrix(ref_pcs, min(n_kept, n_ref_pcs)),
        _pc_matrix(target_pcs, min(n_kept, n_target_pcs)),
    )
    ref_assign, target_assign = assign_populations(
        Reference(ref_x, ref_labels, train),
        target_x,
        n_pcs=options.n_popcomp,
        method=options.method,
        p_threshold=options.p_threshold,
        seed=options.seed,
    )
    panel = Panel(ref_x, ref_labels, train)
    pgs_frames: list[pl.DataFrame] = []
    models: dict[str, Any] = {}
    for name in names:
        adjusted = adjust_score(
            panel,
            ref_scores[name],
            target_x,
            target_scores[name],
            target_assign.most_similar,
            methods=options.normalisation,
            n_pcs=options.n_normalisation,
        )
        models[name] = adjusted.models
        for sampleset, samples, values, sums in (
            (target, target_pcs, adjusted.target, target_scores[name]),
            (REFERENCE_NAME, ref_pcs, adjusted.reference, ref_scores[name]),
        ):
            columns = {"SUM": sums, **values}
            frame = samples.select("FID", "IID").with_columns(
                pl.lit(sampleset).alias("sampleset"),
                pl.lit(name).alias("PGS"),
                *[pl.Series(c, columns[c]) for c in sorted(columns)],
            )
            pgs_frames.append(frame)
    pgs = (
        pl.concat(pgs_frames)
        .select("sampleset", "FID", "IID", "PGS", pl.exclude("sampleset", "FID", "IID", "PGS"))
        .with_columns(pl.col("PGS").cast(pl.Enum(names)).alias("_order"))
        .sort("_order", "sampleset", "FID", "IID")
        .drop("_order")
    )
    popsim = _popsimilarity(
        target, target_pcs, target_assign, ref_pcs, ref_assign, ref_labels, train, options, n_kept
    )
    info = {"pgs": models, "compare_pcs": {"method": options.method.value}}
    return AncestryResult(target, pgs, popsim, info)


def _assignment_columns(assign: Assignment) -> list[pl.Series]:
    return [
        *[pl.Series(name, values) for name, values in assign.columns.items()],
        pl.Series("MostSimilarPop", assign.most_similar, dtype=pl.Utf8),
        pl.Series("MostSimilarPop_LowConfidence", assign.low_confidence, dtype=pl.Boolean),
    ]


def _popsimilarity(
    target: str,
    target_pcs: pl.DataFrame,
    target_assign: Assignment,
    ref_pcs: pl.DataFrame,
    ref_assign: Assignment,
    ref_labels: Sequence[str],
    train: np.ndarray[Any, np.dtype[np.bool_]],
    options: AncestryOptions,
    n_kept: int,
) -> pl.DataFrame:
    def side(
        name: str, pcs: pl.DataFrame, assign: Assignment, unrelated: pl.Series, label: pl.Series
    ) -> pl.DataFrame:
        kept = [c for c in pcs.columns if c.startswith("PC") and int(c[2:]) <= n_kept]
        return pcs.select(pl.lit(name).alias("sampleset"), "FID", "IID", *kept).with_columns(
            unrelated,
            *_assignment_columns(assign),
            pl.lit(name == REFERENCE_NAME).alias("REFERENCE"),
            label,
        )

    n_t = target_pcs.height
    label = options.population_label
    return pl.concat(
        [
            side(
                target,
                target_pcs,
                target_assign,
                pl.Series("Unrelated", [None] * n_t, dtype=pl.Boolean),
                pl.Series(label, [None] * n_t, dtype=pl.Utf8),
            ),
            side(
                REFERENCE_NAME,
                ref_pcs,
                ref_assign,
                pl.Series("Unrelated", train, dtype=pl.Boolean),
                pl.Series(label, list(ref_labels), dtype=pl.Utf8),
            ),
        ],
        how="vertical",
    )
