"""The orchestration of a run: scoring files and target genotypes in, aggregated scores and
match reports out (the maths are in :mod:`.maths`, the streaming pass in :mod:`.streaming`).

The one sequence both ``vatti pgs score`` and the ``pgs`` pipeline run:

1. read and normalise the scoring files for the target build;
2. per sampleset, read the variants of its genotype files and match the scoring variants;
3. write the match log and summary; a score that matched less than ``min_overlap`` (or no
   variant at all) is marked failed there and dropped, as pgsc_calc does, and the run stops
   (:class:`NoScorePassed`) only when a sampleset has no score left;
4. score every passing score and sample in one streaming pass per genotype file;
5. write ``aggregated_scores.txt.gz`` (the PGS Catalog Calculator's format) and ``report.html``
   (:mod:`.html_report`; also when no score passed).

Outputs in ``out_dir``: :data:`SCORES_NAME`, :data:`LOG_NAME`, :data:`SUMMARY_JSON`,
:data:`SUMMARY_TSV`, :data:`REPORT_NAME` and :data:`TIMINGS_NAME` (seconds per step).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import polars as pl

from vatti.pipelines.errors import StepFailed
from vatti.pipelines.pgs.aggregate import write_aggregated_scores
from vatti.pipelines.pgs.blockpool import available_cores, ordered_map
from vatti.pipelines.pgs.freqs import FREQ_COLUMN, read_afreq, with_reference_freqs
from vatti.pipelines.pgs.html_report import (
    ReportInputs,
    ReportSection,
    ScoreFileInfo,
    write_report,
)
from vatti.pipelines.pgs.liftover import Liftover
from vatti.pipelines.pgs.match import (
    LOG_SCHEMA,
    MatchOptions,
    compact_scoring,
    failed_scores,
    match_counts,
    match_log_chunks,
    summary_from_counts,
)
from vatti.pipelines.pgs.report import write_match_log_chunk, write_summary
from vatti.pipelines.pgs.scorefile import (
    DuplicateAccession,
    read_scoring_file,
)
from vatti.pipelines.pgs.streaming import (
    MATCHED_COLUMNS,
    SCORES_SCHEMA,
    ScoringOptions,
    score_samplesets,
)
from vatti.pipelines.pgs.targets.base import Sampleset, read_variants

SCORES_NAME = "aggregated_scores.txt.gz"
LOG_NAME = "match_log.tsv.gz"
SUMMARY_JSON = "match_summary.json"
SUMMARY_TSV = "match_summary.tsv"
TIMINGS_NAME = "timings.json"
REPORT_NAME = "report.html"

log = logging.getLogger("vatti.pgs")

#: The failure code of a run where a sampleset has no score that passed ``min_overlap`` (and the
#: warning code of each score dropped in a run that went on with the others).
MIN_OVERLAP_CODE = "pgs_min_overlap"


class NoScorePassed(StepFailed):
    """Every score of a sampleset matched less than ``min_overlap``, or nothing: no score left
    to compute (pgscatalog-match's ``ZeroMatchesError``). The match reports are written."""

    exit_code = 65  # EX_DATAERR: the inputs do not fit each other

    def __init__(self, message: str) -> None:
        super().__init__("match", message, code=MIN_OVERLAP_CODE)


def unique_files(paths: Sequence[Path]) -> list[Path]:
    """``paths`` without the repeats of a file (however spelt: relative, through a link), in
    first-given order."""
    seen: dict[Path, Path] = {}
    for path in paths:
        seen.setdefault(Path(path).resolve(), Path(path))
    return list(seen.values())


@dataclass(frozen=True)
class _ReadScoring:
    """One scoring file, read and compacted (see compact_scoring)."""

    path: Path
    read_as: Path
    counts: list[tuple[str, int]]  # variants per accession, in file order
    variants: pl.DataFrame
    header: dict[str, str]
    dropped: dict[str, int]


def _read_one(path: Path, target_build: str, liftover: Liftover | None) -> _ReadScoring:
    scorefile = read_scoring_file(path, target_build, liftover)
    counts = scorefile.variants.group_by("accession", maintain_order=True).len()
    return _ReadScoring(
        path,
        scorefile.path,
        [(str(a), int(n)) for a, n in counts.iter_rows()],
        compact_scoring(scorefile.variants),
        scorefile.header.raw,
        scorefile.dropped,
    )


def _read_scoring(
    paths: Sequence[Path], target_build: str, liftover: Liftover | None = None
) -> tuple[pl.DataFrame, list[ScoreFileInfo]]:
    """All scoring variants, each file compacted as soon as it is read (see compact_scoring),
    and what the report says of each file; a file given twice is read once. Files are read
    side by side, one a core (polars' parsing releases the GIL), and kept in the given order."""
    frames: list[pl.DataFrame] = []
    infos: list[ScoreFileInfo] = []
    seen: dict[str, Path] = {}
    reads = (partial(_read_one, path, target_build, liftover) for path in unique_files(paths))
    for read in ordered_map(reads, threads=available_cores()):
        for accession, n_variants in read.counts:
            if accession in seen:
                raise DuplicateAccession(
                    f"accession {accession} is in two scoring files: {seen[accession]} "
                    f"and {read.path}"
                )
            seen[accession] = read.read_as
            infos.append(
                ScoreFileInfo(accession, read.path.name, read.header, n_variants, read.dropped)
            )
        frames.append(read.variants)
    return pl.concat(frames), infos


def _scored_rows(log: pl.DataFrame, freqs: pl.DataFrame | None) -> pl.DataFrame:
    """The rows of a match log chunk to score, in few bytes (text columns categorical), with
    their allele's reference frequency when ``freqs`` are given."""
    rows = log.filter(pl.col("matched"))
    columns = [
        pl.col(name).cast(pl.Categorical) if log.schema[name] == pl.Utf8 else pl.col(name)
        for name in MATCHED_COLUMNS
    ]
    if freqs is None:
        return rows.select(columns)
    return with_reference_freqs(rows, freqs).select(*columns, FREQ_COLUMN)


def _passing_rows(matched: dict[str, list[pl.DataFrame]], summary: pl.DataFrame) -> pl.DataFrame:
    """The rows to score of the scores that passed, with their ``sampleset``."""
    frames: list[pl.DataFrame] = []
    several = len(matched) > 1  # one sampleset needs no sampleset column (saves a filter)
    for name, parts in matched.items():
        passed = summary.filter(pl.col("passed") & (pl.col("sampleset") == name))["accession"]
        frames.extend(
            part.filter(pl.col("accession").cast(pl.Utf8).is_in(passed.implode()))
            .with_columns(pl.lit(name, pl.Utf8).alias("sampleset"))
            .select(pl.all() if several else pl.exclude("sampleset"))
            for part in parts
        )
    if not frames:
        return pl.DataFrame(
            schema={
                **{c: LOG_SCHEMA[c] for c in MATCHED_COLUMNS},
                FREQ_COLUMN: pl.Float64,
                "sampleset": pl.Utf8,
            }
        )
    return pl.concat(frames)


class LogWriter:
    """Writes the match log's chunks, in order, on a thread of its own (polars' CSV writer and
    ISA-L release the GIL), so the log is written while the run matches and scores. A failed
    chunk is raised by the next :meth:`write`, or by :meth:`close`, which waits for the last."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 (closed by close())
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vatti-log")
        self._last: Future[None] | None = None
        self._started = False
        self._closed = False

    def _wait(self) -> None:
        last, self._last = self._last, None
        if last is not None:
            last.result()

    def write(self, chunk: pl.DataFrame) -> None:
        """Hand ``chunk`` over; waits for the one before it first (memory: one chunk more than
        writing on this thread, while the next is being matched)."""
        self._wait()
        header = not self._started
        self._started = True
        self._last = self._pool.submit(write_match_log_chunk, chunk, self._file, header=header)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if not self._started:  # no chunk: the header alone
                write_match_log_chunk(pl.DataFrame(schema=LOG_SCHEMA), self._file, header=True)
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            self._file.close()


def _check_something_passed(summary: pl.DataFrame) -> None:
    """Raise :class:`NoScorePassed` naming each failed score of the samplesets left with none."""
    passing = summary.group_by("sampleset").agg(pl.col("passed").any())
    empty = set(passing.filter(~pl.col("passed"))["sampleset"])
    if not empty:
        return
    failed = failed_scores(summary.filter(pl.col("sampleset").is_in(sorted(empty))))
    where = ("sampleset " if len(empty) == 1 else "samplesets ") + ", ".join(sorted(empty))
    raise NoScorePassed(f"no score passed min_overlap in {where}: " + "; ".join(failed))


@dataclass(frozen=True)
class CalcOptions:
    target_build: str
    min_overlap: float = 0.75
    keep_ambiguous: bool = False
    keep_multiallelic: bool = False
    use_dosage: bool = False
    #: plink2 ``.afreq`` of a reference panel: mean imputation from these frequencies, whatever
    #: the sampleset's size (the PGS Catalog Calculator's ``--read-freq``).
    reference_freqs: Path | None = None
    #: A UCSC chain file: scoring files in the other build are lifted over (pgsc_calc's
    #: ``--liftover``, :mod:`.liftover`); ``None``: they are refused.
    liftover_chain: Path | None = None
    #: Keeps the variants (of a sampleset, by name) that may match: the ancestry analysis
    #: scores the target and the reference panel on the variants they share.
    variant_filter: Callable[[str, pl.DataFrame], pl.DataFrame] | None = field(
        default=None, metadata={"internal": True}
    )


@dataclass
class CalcResult:
    outputs: list[str]
    scores: pl.DataFrame
    summary: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    #: what ``report.html`` shows: a later step adds its section and writes it again
    report: ReportInputs | None = None

    @property
    def failed(self) -> pl.DataFrame:
        """The summary rows of the scores that failed and were not computed."""
        return self.summary.filter(~pl.col("passed"))


class Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 4)
            log.info("pgs.step step=%s seconds=%.3f", name, self.timings[name])


def report_parameters(
    scorefiles: Sequence[Path], samplesets: Sequence[Sampleset], options: CalcOptions
) -> dict[str, object]:
    """The run's parameters as the report lists them (file names, not their folders)."""
    params: dict[str, object] = {
        "scoring files": ", ".join(Path(p).name for p in scorefiles),
        "samplesets": "; ".join(
            f"{s.name}: " + ", ".join(f"{f.geno.name} ({f.format.value})" for f in s.files)
            for s in samplesets
        ),
    }
    for option in dataclasses.fields(options):
        if option.metadata.get("internal"):
            continue  # set by vatti's own steps, not by the user
        value = getattr(options, option.name)
        params[option.name] = Path(value).name if isinstance(value, Path) else value
    return params


def calculate(
    scorefiles: Sequence[Path],
    samplesets: Sequence[Sampleset],
    options: CalcOptions,
    out_dir: Path,
    report_sections: Sequence[ReportSection] = (),
) -> CalcResult:
    """Run the whole calculation: the scores that pass ``min_overlap`` are computed, the others
    are marked failed in the summary (:attr:`CalcResult.failed`); raise :class:`NoScorePassed`
    when a sampleset has no passing score (after writing the reports). ``report_sections`` are
    added to ``report.html`` (the ancestry step's plots)."""
    if not scorefiles:
        raise StepFailed("scorefiles", "no scoring files to score", code="invalid_params")
    names = [s.name for s in samplesets]
    if len(set(names)) != len(names):
        raise StepFailed("targets", "two samplesets have the same name", code="invalid_params")
    out_dir.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    total = time.perf_counter()
    with timer.step("read_scorefiles"):
        lift = None if options.liftover_chain is None else Liftover.read(options.liftover_chain)
        scoring, infos = _read_scoring(scorefiles, options.target_build, lift)
    freqs = None
    if options.reference_freqs is not None:
        with timer.step("read_reference_freqs"):
            freqs = read_afreq(options.reference_freqs)
    match_options = MatchOptions(
        keep_ambiguous=options.keep_ambiguous,
        keep_multiallelic=options.keep_multiallelic,
        min_overlap=options.min_overlap,
    )
    counts: list[pl.DataFrame] = []
    matched: dict[str, list[pl.DataFrame]] = {}
    log_writer = LogWriter(out_dir / LOG_NAME)
    try:
        for sampleset in samplesets:
            for file in sampleset.files:
                file.check_exists()
            with timer.step(f"read_variants:{sampleset.name}"):
                target = read_variants(sampleset)
                if options.variant_filter is not None:
                    target = options.variant_filter(sampleset.name, target)
            with timer.step(f"match:{sampleset.name}"):
                # the log is written chunk by chunk: only its matched rows stay in memory
                chunks = match_log_chunks(scoring, target, match_options, sampleset.name)
                del target  # the chunks keep what they need of it
                for chunk in chunks:
                    log_writer.write(chunk)
                    counts.append(match_counts(chunk))
                    matched.setdefault(sampleset.name, []).append(_scored_rows(chunk, freqs))
                del chunks
        del scoring, freqs
        with timer.step("write_reports"):
            summary = summary_from_counts(pl.concat(counts), options.min_overlap)
            write_summary(summary, out_dir / SUMMARY_JSON, out_dir / SUMMARY_TSV)
        report = ReportInputs(
            infos,
            summary,
            pl.DataFrame(schema=SCORES_SCHEMA),
            report_parameters(scorefiles, samplesets, options),
            report_sections,
        )
        try:
            _check_something_passed(summary)
        except NoScorePassed:
            log_writer.close()  # complete before the run stops
            write_report(out_dir / REPORT_NAME, report)
            raise
        for line in failed_scores(summary):
            log.warning("pgs.score_failed %s (not computed)", line)
        to_score = _passing_rows(matched, summary)
        del matched
        with timer.step("scoring"):
            scoring_options = ScoringOptions(
                use_dosage=options.use_dosage,
                mean_impute=True if options.reference_freqs is not None else None,
            )
            scores = score_samplesets(samplesets, to_score, scoring_options)
            log_writer.close()  # written meanwhile, on another thread
    finally:
        log_writer.close()
    with timer.step("write_scores"):
        write_aggregated_scores(scores, out_dir / SCORES_NAME)
    report = dataclasses.replace(report, scores=scores)
    with timer.step("write_report"):
        write_report(out_dir / REPORT_NAME, report)
    timer.timings["total"] = round(time.perf_counter() - total, 4)
    (out_dir / TIMINGS_NAME).write_text(json.dumps(timer.timings, indent=2) + "\n")
    outputs = [SCORES_NAME, LOG_NAME, SUMMARY_JSON, SUMMARY_TSV, REPORT_NAME, TIMINGS_NAME]
    return CalcResult(outputs, scores, summary, timer.timings, report)
