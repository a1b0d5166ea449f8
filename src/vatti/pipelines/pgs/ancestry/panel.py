"""The ancestry analysis of a run on a reference panel (``vatti pgs score --ancestry``), as
pgsc_calc's ``--run_ancestry`` chains it:

1. the target's and the panel's variants are intersected (same position and alleles, either
   orientation; biallelic SNPs, each position once on both sides), and both are scored on the
   intersection only (:class:`~vatti.pipelines.pgs.orchestration.CalcOptions.variant_filter`),
   the panel as the sampleset ``reference``;
2. the panel's unrelated samples and the shared variants are QC'd and LD-pruned by plink2 with
   pgsc_calc's settings (:data:`PLINK2_QC`);
3. the reference PCA on them, and the target's projection (:mod:`.projection`), written as
   ``reference.pcs`` and ``<target>.pcs``;
4. the most similar population and the adjusted scores (:mod:`.analysis`), written as
   ``<target>_pgs.txt.gz``, ``<target>_popsimilarity.txt.gz`` and ``<target>_info.json.gz``,
   and its section in ``report.html`` (:mod:`.report_section`).

A panel is a PLINK 2 or PLINK 1 fileset whose ``.psam`` has the population label column, with a
relatedness list (plink2's ``.king.cutoff.out.id``) beside it or given.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from vatti.pipelines.errors import StepFailed
from vatti.pipelines.pgs.ancestry.analysis import REFERENCE_NAME, AncestryOptions, adjust
from vatti.pipelines.pgs.ancestry.files import (
    AncestryInputError,
    read_population_labels,
    read_related,
    write_table,
)
from vatti.pipelines.pgs.ancestry.genotypes import count_samples, read_genotypes
from vatti.pipelines.pgs.ancestry.params import AncestryParams
from vatti.pipelines.pgs.ancestry.projection import ReferencePca, project, reference_pca
from vatti.pipelines.pgs.ancestry.report_section import ancestry_section
from vatti.pipelines.pgs.ancestry.run import write_result
from vatti.pipelines.pgs.freqs import read_afreq
from vatti.pipelines.pgs.html_report import write_report
from vatti.pipelines.pgs.orchestration import (
    REPORT_NAME,
    TIMINGS_NAME,
    CalcOptions,
    CalcResult,
    Timer,
    calculate,
)
from vatti.pipelines.pgs.targets.base import GenotypeFile, Sampleset, read_variants
from vatti.pipelines.pgs.vocabulary import TargetFormat

#: pgsc_calc's reference QC (its ``geno_ref``, ``mind_ref``, ``maf_ref``, ``hwe_ref`` and
#: ``indep_pairwise_ref``), plink2 arguments.
PLINK2_QC = (
    "--max-alleles", "2", "--snps-only", "just-acgt", "--rm-dup", "exclude-all",
    "--geno", "0.1", "--mind", "0.1", "--maf", "0.05", "--hwe", "0.0001",
    "--autosome", "--allow-extra-chr", "--indep-pairwise", "1000", "50", "0.05",
)  # fmt: skip
#: The PCs FRAPOSA computes in pgsc_calc (``--dim_ref 10``).
DIM_REF = 10
RELATED_SUFFIX = ".king.cutoff.out.id"
_ACGT = "^[ACGT]$"


@dataclass(frozen=True)
class ReferencePanel:
    file: GenotypeFile
    related: Path | None = None

    @classmethod
    def at(cls, file: GenotypeFile, related: Path | None = None) -> ReferencePanel:
        """The panel of ``file``, with ``related`` or the ``.king.cutoff.out.id`` beside it."""
        if file.format is TargetFormat.VCF:
            raise AncestryInputError("a reference panel is a PLINK 2 or PLINK 1 fileset, not a VCF")
        file.check_exists()
        if related is None:
            beside = Path(str(file.geno)[: -len(file.geno.suffix)] + RELATED_SUFFIX)
            related = beside if beside.is_file() else None
        elif not related.is_file():
            raise AncestryInputError(f"relatedness list {related}: no such file")
        return cls(file, related)


class Plink2Missing(StepFailed):
    exit_code = 78

    def __init__(self) -> None:
        super().__init__(
            "ancestry",
            "the ancestry analysis runs plink2 for the reference QC and LD pruning: install it "
            "(scripts/install-plink2.sh) or set VATTI_PLINK2",
            code="pgs_ancestry_plink2_missing",
        )


def _plink2() -> str:
    path = os.environ.get("VATTI_PLINK2") or shutil.which("plink2")
    if not path:
        raise Plink2Missing()
    return path


def shared_variants(target: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """The biallelic SNPs at one position on both sides with the same two alleles:
    ``t_file_idx, t_variant_idx, t_ref, t_alt, r_variant_idx, r_id, r_ref, r_alt``, in the
    reference's order.

    >>> t = pl.DataFrame({"file_idx": [0, 0, 0], "variant_idx": [0, 1, 2], "chrom": ["1"] * 3,
    ...     "pos": [10, 20, 30], "id": ["a", "b", "c"], "ref": ["A", "C", "G"],
    ...     "alt": ["G", "T", "A,C"]})
    >>> r = t.with_columns(ref=pl.Series(["G", "C", "G"]), alt=pl.Series(["A", "G", "A"]))
    >>> shared_variants(t, r).select("t_variant_idx", "t_alt", "r_alt").rows()
    [(0, 'G', 'A')]
    """

    def side(table: pl.DataFrame, prefix: str) -> pl.DataFrame:
        snps = table.filter(
            pl.col("ref").str.contains(_ACGT) & pl.col("alt").str.contains(_ACGT)
        ).filter(pl.len().over("chrom", "pos") == 1)
        return snps.select(
            "chrom",
            "pos",
            *[
                pl.col(c).alias(f"{prefix}{c}")
                for c in ("file_idx", "variant_idx", "id", "ref", "alt")
            ],
        )

    joined = side(target, "t_").join(side(reference, "r_"), on=["chrom", "pos"], how="inner")
    same = ((pl.col("t_ref") == pl.col("r_ref")) & (pl.col("t_alt") == pl.col("r_alt"))) | (
        (pl.col("t_ref") == pl.col("r_alt")) & (pl.col("t_alt") == pl.col("r_ref"))
    )
    return joined.filter(same).sort("r_file_idx", "r_variant_idx")


def _keep(table: pl.DataFrame, shared: pl.DataFrame, prefix: str) -> pl.DataFrame:
    keys = shared.select(
        pl.col(f"{prefix}file_idx").alias("file_idx"),
        pl.col(f"{prefix}variant_idx").alias("variant_idx"),
    )
    return table.join(keys, on=["file_idx", "variant_idx"], how="semi", maintain_order="left")


def _plink2_input(file: GenotypeFile) -> list[str]:
    if file.format is TargetFormat.PFILE:
        return ["--pgen", str(file.geno), "--pvar", str(file.variants), "--psam", str(file.samples)]
    return ["--bed", str(file.geno), "--bim", str(file.variants), "--fam", str(file.samples)]


def qc_and_prune(
    panel: ReferencePanel, ids: Sequence[str], work: Path, threads: int = 2
) -> tuple[set[str], set[str]]:
    """The variant IDs (of ``ids``) and sample IIDs left after pgsc_calc's reference QC and
    LD pruning (plink2, :data:`PLINK2_QC`), the related samples removed; the QC'd variants'
    frequencies in ``work/reference.afreq``."""
    (work / "shared.txt").write_text("".join(f"{i}\n" for i in ids))
    remove = ["--remove", str(panel.related)] if panel.related is not None else []
    argv = [
        _plink2(), "--threads", str(threads), *_plink2_input(panel.file), *remove,
        "--extract", str(work / "shared.txt"), *PLINK2_QC, "--freq", "--write-samples",
        "--out", str(work / "reference"),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise StepFailed(
            "ancestry", "plink2 reference QC failed: " + " ".join(tail), code="pgs_ancestry_qc"
        )
    kept = set((work / "reference.prune.in").read_text().split())
    lines = (work / "reference.id").read_text().splitlines()
    header = lines[0].split() if lines else []
    at = header.index("IID") if "IID" in header else (header.index("#IID") if header else 0)
    samples = {line.split()[at] for line in lines[1:] if line.strip()}
    return kept, samples


def panel_freqs(afreq: Path, shared: pl.DataFrame, out: Path) -> Path:
    """The panel's ALT frequencies (plink2's ``.afreq`` of the QC'd panel) under the IDs and
    alleles of both sides, for :func:`~vatti.pipelines.pgs.freqs.with_reference_freqs`: a target
    variant whose ID is ``.`` or not unique is left out (it falls back to its own frequency)."""
    freqs = read_afreq(afreq).select(
        pl.col("id").alias("r_id"), pl.col("alt_freqs").list.first().alias("f")
    )
    joined = shared.join(freqs, on="r_id", how="inner")
    unique_target = ~pl.col("t_id").is_in([".", ""]) & ~pl.col("t_id").is_duplicated()
    target_side = joined.filter(unique_target).select(
        pl.col("t_id").alias("ID"),
        pl.col("t_ref").alias("REF"),
        pl.col("t_alt").alias("ALT"),
        pl.when(pl.col("t_alt") == pl.col("r_alt"))
        .then(pl.col("f"))
        .otherwise(1 - pl.col("f"))
        .alias("ALT_FREQS"),
    )
    panel_side = joined.select(
        pl.col("r_id").alias("ID"),
        pl.col("r_ref").alias("REF"),
        pl.col("r_alt").alias("ALT"),
        pl.col("f").alias("ALT_FREQS"),
    )
    pl.concat([panel_side, target_side]).write_csv(out, separator="\t")
    return out


def _pcs_table(samples: pl.DataFrame, pcs: np.ndarray) -> pl.DataFrame:
    return samples.select("FID", "IID").with_columns(
        *[pl.Series(f"PC{k + 1}", pcs[:, k]) for k in range(pcs.shape[1])]
    )


#: Target samples projected at a time: each chunk's genotypes (pruned variants x samples, 9
#: bytes a call) are read in one pass over the target's files and held together.
CHUNK_BYTES = 256 * 2**20


def _target_genotypes(
    sampleset: Sampleset, pruned: pl.DataFrame, samples: slice
) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    """The target's counts of the reference's ALT allele at the pruned variants, in their
    order, for a range of its samples."""
    values: np.ndarray | None = None
    missing: np.ndarray | None = None
    table: pl.DataFrame | None = None
    order = pruned.with_row_index("_row")
    for file_idx, file in enumerate(sampleset.files):
        part = order.filter(pl.col("t_file_idx") == file_idx).sort("t_variant_idx")
        if part.height == 0:
            continue
        allele = (part["t_alt"] == part["r_alt"]).cast(pl.UInt8).to_numpy()
        found = read_genotypes(
            file,
            part["t_variant_idx"].to_numpy().astype(np.uint32),
            allele.astype(np.uint8),
            samples,
        )
        if values is None:
            values = np.empty((pruned.height, found.values.shape[1]))
            missing = np.zeros((pruned.height, found.values.shape[1]), dtype=np.bool_)
            table = found.samples
        assert missing is not None
        rows = part["_row"].to_numpy()
        values[rows] = found.values
        missing[rows] = found.missing
    assert values is not None
    assert missing is not None
    assert table is not None
    return values, missing, table


def project_target(
    sampleset: Sampleset, pruned: pl.DataFrame, pca: ReferencePca, chunk: int | None = None
) -> pl.DataFrame:
    """The target's PCs (``FID IID PC1...``), ``chunk`` samples at a time (default: as many
    as fit :data:`CHUNK_BYTES`)."""
    n = count_samples(sampleset.files[0])
    step = chunk or max(1, CHUNK_BYTES // (9 * max(pruned.height, 1)))
    parts = []
    for start in range(0, n, step):
        values, missing, samples = _target_genotypes(
            sampleset, pruned, slice(start, min(start + step, n))
        )
        parts.append(_pcs_table(samples, project(pca, values, missing)))
    return pl.concat(parts)


def calculate_with_ancestry(
    scorefiles: Sequence[Path],
    samplesets: Sequence[Sampleset],
    options: CalcOptions,
    out_dir: Path,
    panel: ReferencePanel,
    ancestry: AncestryOptions = AncestryOptions(),
) -> CalcResult:
    """:func:`~vatti.pipelines.pgs.orchestration.calculate` of the target and the panel on
    their shared variants, then the ancestry analysis; its files are added to the outputs."""
    if len(samplesets) != 1:
        raise AncestryInputError(
            f"the ancestry analysis takes one target sampleset, not {len(samplesets)}"
        )
    target = samplesets[0]
    if target.name == REFERENCE_NAME:
        raise AncestryInputError(f"the target sampleset cannot be named {REFERENCE_NAME!r}")
    reference = Sampleset(REFERENCE_NAME, [panel.file])
    labels = read_population_labels(panel.file.samples, ancestry.population_label)
    related = read_related(panel.related)
    target_variants = read_variants(target)
    reference_variants = read_variants(reference)
    shared = shared_variants(target_variants, reference_variants)
    del target_variants, reference_variants
    if shared.height == 0:
        raise AncestryInputError("the target and the reference panel share no variant")
    if shared["r_id"].is_in([".", ""]).any() or shared["r_id"].is_duplicated().any():
        raise AncestryInputError("the reference panel's variants need unique IDs (not '.')")

    def only_shared(name: str, table: pl.DataFrame) -> pl.DataFrame:
        return _keep(table, shared, "r_" if name == REFERENCE_NAME else "t_")

    timer = Timer()
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vatti-ancestry-") as tmp:
        work = Path(tmp)
        with timer.step("ancestry_qc"):
            kept_ids, kept_samples = qc_and_prune(panel, shared["r_id"].to_list(), work)
        panel_imputes = options.reference_freqs is None
        if panel_imputes:
            # pgsc_calc imputes with the QC'd panel's frequencies (plink2 --read-freq)
            freqs = panel_freqs(work / "reference.afreq", shared, work / "relabelled.afreq")
            options = dataclasses.replace(options, reference_freqs=freqs)
        result = calculate(
            scorefiles,
            [target, reference],
            dataclasses.replace(options, variant_filter=only_shared),
            out_dir,
        )
    pruned = shared.filter(pl.col("r_id").is_in(sorted(kept_ids)))
    if pruned.height < 4 * DIM_REF:
        raise AncestryInputError(
            f"{pruned.height} shared variants are left after the reference QC and LD pruning; "
            f"the PCA needs at least {4 * DIM_REF}"
        )
    with timer.step("ancestry_pca"):
        ref = read_genotypes(
            panel.file,
            pruned["r_variant_idx"].to_numpy().astype(np.uint32),
            np.ones(pruned.height, dtype=np.uint8),
        )
        columns = np.flatnonzero(ref.samples["IID"].is_in(sorted(kept_samples)).to_numpy())
        pca = reference_pca(ref.values[:, columns], ref.missing[:, columns], dim_ref=DIM_REF)
        ref_pcs = _pcs_table(ref.samples[columns], pca.pcs)
        del ref
    with timer.step("ancestry_projection"):
        target_pcs = project_target(target, pruned, pca)
        write_table(ref_pcs, out_dir / "reference.pcs.gz")
        write_table(target_pcs, out_dir / f"{target.name}.pcs.gz")
    with timer.step("ancestry_adjust"):
        scores = result.scores.select("sampleset", "FID", "IID", "PGS", "SUM")
        adjusted = adjust(ref_pcs, labels, related, target_pcs, target.name, scores, ancestry)
        written = write_result(adjusted, out_dir)
    if result.report is not None:
        with timer.step("ancestry_report"):
            result.report = dataclasses.replace(
                result.report,
                sections=[
                    *result.report.sections,
                    ancestry_section(adjusted.popsimilarity, target.name, ancestry),
                ],
                parameters={
                    **result.report.parameters,
                    **({"reference_freqs": "the QC'd panel's"} if panel_imputes else {}),
                    "ancestry panel": panel.file.geno.name,
                },
            )
            write_report(out_dir / REPORT_NAME, result.report)
    result.timings.update(timer.timings)
    result.timings["total"] = round(time.perf_counter() - begin, 4)
    (out_dir / TIMINGS_NAME).write_text(json.dumps(result.timings, indent=2) + "\n")
    result.outputs.extend(["reference.pcs.gz", f"{target.name}.pcs.gz", *(p.name for p in written)])
    return result


def job_panel(params: AncestryParams, staged: Mapping[str, Path]) -> ReferencePanel:
    """The panel a job's ``ancestry`` param names, from its staged files (a job names its
    relatedness list: nothing is looked for beside the panel)."""
    file = GenotypeFile(
        TargetFormat(params.format),
        staged[params.geno],
        staged[params.variants],
        staged[params.pheno],
    )
    return ReferencePanel(file, staged[params.related] if params.related else None)
