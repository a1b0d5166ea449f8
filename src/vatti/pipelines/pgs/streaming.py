"""The streaming scoring pass: read matched variants block by block, accumulate every score.

Memory is one block of dosages (``block_size`` requests x samples) per thread plus the running
totals (samples x scores) plus the matched rows themselves; the genotype matrix is never held
whole. All scores of a sampleset are computed in one pass over each of its files, its blocks
scored on every core (:mod:`.blockpool`).
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.blockpool import available_cores, one_blas_thread, ordered_map
from vatti.pipelines.pgs.freqs import FREQ_COLUMN
from vatti.pipelines.pgs.maths import (
    BlockWeights,
    ScoreResult,
    ScoreTotals,
    block_totals,
    finish,
    use_mean_imputation,
)
from vatti.pipelines.pgs.targets.base import (
    DosageBlock,
    GenotypeReader,
    Sampleset,
    open_reader,
    read_samples,
)
from vatti.pipelines.pgs.targets.errors import ScoringInputError
from vatti.pipelines.pgs.vocabulary import EffectType

MATCHED_COLUMNS = (
    "accession",
    "file_idx",
    "variant_idx",
    "allele_idx",
    "effect_weight",
    "effect_type",
)

SCORES_SCHEMA: dict[str, type[pl.DataType]] = {
    "sampleset": pl.Utf8,
    "FID": pl.Utf8,
    "IID": pl.Utf8,
    "PGS": pl.Utf8,
    "SUM": pl.Float64,
    "DENOM": pl.Int64,
    "AVG": pl.Float64,
    "ALLELE_CT": pl.Int64,
}

_EFFECTS = [e.value for e in EffectType]

#: Dosages per block when the block size is automatic (16 MiB of float64).
BLOCK_CELLS = 1 << 21


def block_rows(options: ScoringOptions, n_samples: int) -> int:
    """Variants per block: the option, or :data:`BLOCK_CELLS` / samples within [64, 8192].

    >>> block_rows(ScoringOptions(), 2000), block_rows(ScoringOptions(block_size=7), 2000)
    (1048, 7)
    """
    if options.block_size is not None:
        return options.block_size
    return max(64, min(8192, BLOCK_CELLS // max(n_samples, 1)))


@dataclass(frozen=True)
class ScoringOptions:
    """How to score.

    ``mean_impute``: ``None`` applies the PGS Catalog Calculator's rule (mean imputation from 50
    samples up); ``True``/``False`` force it. ``use_dosage`` reads VCF ``DS`` rather than ``GT``.
    ``block_size`` (variants per block): ``None`` sizes blocks to about :data:`BLOCK_CELLS`
    dosages, which measured fastest (cache-friendly) and keeps memory flat as samples grow.
    ``threads`` score blocks side by side (:mod:`.blockpool`); the sums do not depend on it.
    """

    block_size: int | None = None
    use_dosage: bool = False
    mean_impute: bool | None = None
    #: Threads of the pass (``None``: one per core the process may use).
    threads: int | None = None


@dataclass(frozen=True)
class _FilePlan:
    """The requests of one file and, per matched row, which request and score it feeds."""

    variant_idx: npt.NDArray[np.uint32]
    allele_idx: npt.NDArray[np.uint8]
    row_request: npt.NDArray[np.int64]  # sorted
    row_score: npt.NDArray[np.int64]
    row_weight: npt.NDArray[np.float64]
    row_effect: npt.NDArray[np.int64]  # index into _EFFECTS
    request_freq: npt.NDArray[np.float64] | None  # reference frequency, NaN when unknown


def _check_matched(matched: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in MATCHED_COLUMNS if c not in matched.columns]
    if missing:
        raise ScoringInputError(f"matched variants lack the column(s) {', '.join(missing)}")
    freq = [pl.col(FREQ_COLUMN).cast(pl.Float64)] if FREQ_COLUMN in matched.columns else []
    frame = matched.select(  # only what scoring needs: the matched frame may be wide
        pl.col("accession").cast(pl.Utf8),
        pl.col("file_idx"),
        pl.col("variant_idx"),
        pl.col("allele_idx"),
        pl.col("effect_weight").cast(pl.Float64),
        pl.col("effect_type").cast(pl.Utf8).str.to_lowercase(),
        *freq,
    )
    bad = frame.filter(~pl.col("effect_type").is_in(_EFFECTS))["effect_type"].unique()
    if bad.len():
        raise ScoringInputError(f"unknown effect_type(s): {', '.join(bad.cast(pl.Utf8))}")
    if frame.select(pl.any_horizontal(pl.col(MATCHED_COLUMNS).is_null().any())).item():
        raise ScoringInputError("matched variants have null values")
    return frame


def _plan_file(rows: pl.DataFrame, scores: list[str]) -> _FilePlan:
    rows = rows.select(  # numbers only before sorting: no string column is copied
        pl.col("variant_idx").cast(pl.UInt32),
        pl.col("allele_idx").cast(pl.UInt8),
        pl.col("accession")
        .replace_strict(scores, list(range(len(scores))), return_dtype=pl.Int64)
        .alias("score"),
        pl.col("effect_weight"),
        pl.col("effect_type")
        .replace_strict(_EFFECTS, list(range(len(_EFFECTS))), return_dtype=pl.Int64)
        .alias("effect"),
        *([pl.col(FREQ_COLUMN).fill_null(np.nan)] if FREQ_COLUMN in rows.columns else []),
    ).sort("variant_idx", "allele_idx")
    variant = rows["variant_idx"].to_numpy()
    allele = rows["allele_idx"].to_numpy()
    new = np.ones(variant.size, dtype=bool)  # first row of each (variant, allele) request
    new[1:] = (variant[1:] != variant[:-1]) | (allele[1:] != allele[:-1])
    return _FilePlan(
        variant[new],
        allele[new],
        np.cumsum(new) - 1,
        rows["score"].to_numpy(),
        rows["effect_weight"].to_numpy(),
        rows["effect"].to_numpy(),
        rows[FREQ_COLUMN].to_numpy()[new] if FREQ_COLUMN in rows.columns else None,
    )


def _block_weights(plan: _FilePlan, start: int, size: int, n_scores: int) -> BlockWeights:
    lo, hi = np.searchsorted(plan.row_request, [start, start + size])
    req = plan.row_request[lo:hi] - start
    score = plan.row_score[lo:hi]
    member = np.zeros((size, n_scores))
    np.add.at(member, (req, score), 1.0)
    by_effect: dict[EffectType, npt.NDArray[np.float64]] = {}
    for code, name in enumerate(_EFFECTS):
        pick = plan.row_effect[lo:hi] == code
        if pick.any():
            weights = np.zeros((size, n_scores))
            np.add.at(weights, (req[pick], score[pick]), plan.row_weight[lo:hi][pick])
            by_effect[EffectType(name)] = weights
    return BlockWeights(member, by_effect)


@dataclass(frozen=True)
class _BlockMaths:
    """One block's share of the totals (what each thread computes)."""

    plan: _FilePlan
    n_scores: int
    mean_impute: bool
    founders: npt.NDArray[np.bool_] | None

    def __call__(self, block: DosageBlock, offset: int = 0) -> ScoreTotals:
        start, k = offset + block.start, block.values.shape[0]
        weights = _block_weights(self.plan, start, k, self.n_scores)
        freq = None
        if self.plan.request_freq is not None:
            freq = self.plan.request_freq[start : start + k]
        return block_totals(
            block.values,
            block.missing,
            weights,
            mean_impute=self.mean_impute,
            freq=freq,
            founders=self.founders,
        )


#: Blocks a thread reads and scores per task when the file allows reading anywhere.
BLOCKS_PER_TASK = 4


def _one(maths: _BlockMaths, block: DosageBlock) -> list[ScoreTotals]:
    return [maths(block)]


def _file_shares(
    reader: GenotypeReader, maths: _BlockMaths, rows_per_block: int, threads: int
) -> Iterator[list[ScoreTotals]]:
    """Every block's share, in block order, computed on ``threads`` threads: each thread reads
    its own run of blocks with its own reader (:meth:`~GenotypeReader.fork`), or, for a file
    read in order, this thread reads and the others do the maths."""
    variant_idx, allele_idx = maths.plan.variant_idx, maths.plan.allele_idx
    twin = reader.fork() if threads > 1 else None
    if twin is None:
        blocks = reader.dosage_blocks(variant_idx, allele_idx, rows_per_block)
        yield from ordered_map((partial(_one, maths, block) for block in blocks), threads)
        return
    free: queue.SimpleQueue[GenotypeReader] = queue.SimpleQueue()
    forks = [twin, *(reader.fork() for _ in range(threads - 2))]
    for each in (reader, *forks):
        if each is not None:
            free.put(each)

    def run(lo: int, hi: int) -> list[ScoreTotals]:
        mine = free.get()
        try:
            blocks = mine.dosage_blocks(variant_idx[lo:hi], allele_idx[lo:hi], rows_per_block)
            return [maths(block, lo) for block in blocks]
        finally:
            free.put(mine)

    step = rows_per_block * BLOCKS_PER_TASK
    bounds = [(lo, min(lo + step, variant_idx.size)) for lo in range(0, variant_idx.size, step)]
    try:
        yield from ordered_map((partial(run, lo, hi) for lo, hi in bounds), threads)
    finally:
        for each in forks:
            if each is not None:
                each.close()


def founder_mask(samples: pl.DataFrame) -> npt.NDArray[np.bool_] | None:
    """Which samples' calls make the allele frequencies of mean imputation: the founders, as in
    plink2; None (all samples) when every sample is one, or none is (plink2 would refuse)."""
    founders: npt.NDArray[np.bool_] = samples["founder"].to_numpy()
    return founders if 0 < founders.sum() < founders.size else None


def score_sampleset(
    sampleset: Sampleset, matched: pl.DataFrame, options: ScoringOptions
) -> tuple[pl.DataFrame, list[str], ScoreResult]:
    """Score one sampleset: its samples, the score names (sorted) and the result arrays."""
    samples = read_samples(sampleset)
    frame = _check_matched(matched)
    n_files = len(sampleset.files)
    top = int(frame.select(pl.col("file_idx").max().fill_null(-1)).item())
    if top >= n_files:
        raise ScoringInputError(
            f"matched variants refer to file_idx {top} but sampleset "
            f"{sampleset.name!r} has {n_files} file(s)"
        )
    scores = sorted(frame["accession"].unique().to_list())
    mean_impute = (
        options.mean_impute
        if options.mean_impute is not None
        else use_mean_imputation(samples.height)
    )
    founders = founder_mask(samples)
    totals = ScoreTotals.zeros(samples.height, len(scores))
    rows_per_block = block_rows(options, samples.height)
    threads = options.threads or available_cores()
    with one_blas_thread():
        for file_idx, file in enumerate(sampleset.files):
            rows = frame if n_files == 1 else frame.filter(pl.col("file_idx") == file_idx)
            if rows.is_empty():
                continue
            plan = _plan_file(rows, scores)
            maths = _BlockMaths(plan, len(scores), mean_impute, founders)
            with open_reader(file, use_dosage=options.use_dosage) as reader:
                for shares in _file_shares(reader, maths, rows_per_block, threads):
                    for share in shares:  # in block order: the same sums as one thread's
                        totals.add(share)
    return samples, scores, finish(totals, mean_impute=mean_impute)


def _long_frame(
    name: str, samples: pl.DataFrame, scores: list[str], result: ScoreResult
) -> pl.DataFrame:
    n, s = result.sums.shape
    return pl.DataFrame(
        {
            "sampleset": [name] * (n * s),
            "FID": samples["FID"].to_list() * s,
            "IID": samples["IID"].to_list() * s,
            "PGS": np.repeat(np.array(scores, dtype=object), n).tolist(),
            "SUM": result.sums.T.ravel(),
            "DENOM": result.denom.T.ravel(),
            "AVG": result.avg.T.ravel(),
            "ALLELE_CT": result.allele_ct.T.ravel(),
        },
        schema=SCORES_SCHEMA,
    )


def score_samplesets(
    samplesets: Sequence[Sampleset], matched: pl.DataFrame, options: ScoringOptions | None = None
) -> pl.DataFrame:
    """Score every sampleset; one row per sample x score, grouped by sampleset then score.

    ``matched`` has :data:`MATCHED_COLUMNS`, plus a ``sampleset`` column when there are several
    samplesets (variant indices belong to one sampleset's files), and optionally
    :data:`~vatti.pipelines.pgs.freqs.FREQ_COLUMN`, the reference frequency of each row's allele
    for mean imputation (null: the sampleset's own). Columns of the result:
    :data:`SCORES_SCHEMA` (``ALLELE_CT`` is plink2's, after the pgsc_calc columns).
    """
    options = options or ScoringOptions()
    if options.block_size is not None and options.block_size < 1:
        raise ScoringInputError("block_size must be at least 1")
    if len(samplesets) > 1 and "sampleset" not in matched.columns:
        raise ScoringInputError("with several samplesets, matched needs a 'sampleset' column")
    frames = []
    for sampleset in samplesets:
        rows = matched
        if "sampleset" in matched.columns:
            rows = matched.filter(pl.col("sampleset") == sampleset.name)
        samples, scores, result = score_sampleset(sampleset, rows, options)
        frames.append(_long_frame(sampleset.name, samples, scores, result))
    if not frames:
        return pl.DataFrame(schema=SCORES_SCHEMA)
    return pl.concat(frames)
