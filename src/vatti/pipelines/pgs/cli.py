"""``vatti pgs``: the polygenic score calculator on its own, and its demo data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from pydantic import TypeAdapter, ValidationError
from typer.core import TyperCommand

from vatti.cli import LazyConsole, freeze_heap
from vatti.pipelines.base import JobSettings, PgsCatalogAccess
from vatti.pipelines.pgs.arguments import ScoreSources, score_sources, spread_values, target_file
from vatti.pipelines.pgs.catalog import Catalog
from vatti.pipelines.pgs.match import failed_scores
from vatti.pipelines.pgs.orchestration import SUMMARY_TSV, CalcOptions, calculate
from vatti.pipelines.pgs.params import TargetGenome, TargetGenomes
from vatti.pipelines.pgs.pipeline import samplesets
from vatti.pipelines.pgs.samplesheet import read_samplesheet
from vatti.pipelines.pgs.vocabulary import GenomeBuild

if TYPE_CHECKING:
    from typer import _click

#: registered lazily by :mod:`vatti.cli` as ``vatti pgs`` (which holds its help)
pgs_app = typer.Typer()
#: warnings (rich, loaded when one is printed); the plain result lines go through typer.echo
err = LazyConsole(stderr=True)

DEMO_SEED = 20261125

#: The options that take a list after one name (``--scores A B``).
LIST_OPTIONS = (
    "--scores", "-s", "--scorefile", "--target", "-t",
    "--pgs_id", "--pgs-id", "--pgp_id", "--pgp-id", "--trait_efo", "--trait-efo",
)  # fmt: skip


class ListOptionsCommand(TyperCommand):
    """A command whose :data:`LIST_OPTIONS` take every value up to the next option."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(args, LIST_OPTIONS))


def catalog_access() -> PgsCatalogAccess:
    """The PGS Catalog of the runtime's settings (``VATTI_PGS_CATALOG_DIR``, ``..._URL``,
    ``VATTI_PGS_OFFLINE``)."""
    from vatti.config import Settings

    access = JobSettings.from_settings(Settings.for_component("runtime")).pgs_catalog
    assert access is not None, "the runtime settings were not loaded"
    return access


def catalog_files(
    sources: ScoreSources, build: str, catalog_dir: Path | None, offline: bool, efo_direct: bool
) -> list[Path]:
    """The scoring files of the Catalog ids, from the cache or the Catalog."""
    if not sources.ids:
        return []
    access = catalog_access()
    catalog = Catalog(
        catalog_dir or access.cache_dir, base_url=access.url, offline=offline or access.offline
    )
    try:
        return catalog.resolve(
            pgs_ids=sources.pgs_ids,
            pgp_ids=sources.pgp_ids,
            trait_efos=sources.trait_efos,
            build=build,
            efo_direct=efo_direct,
        )
    finally:
        catalog.close()


def target_rows(targets: list[str], sampleset: str) -> list[TargetGenome]:
    """``--target`` files as samplesheet rows of one sampleset, checked as a job's."""
    rows = []
    for value in targets:
        file = target_file(value)
        rows.append(
            {
                "sampleset": sampleset,
                "geno": str(file.geno),
                "pheno": str(file.samples),
                "variants": str(file.variants),
                "format": file.format.value,
            }
        )
    try:
        return TypeAdapter(TargetGenomes).validate_python(rows)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise typer.BadParameter(
            problems + " (for files split by chromosome, name each one's chrom in a "
            "samplesheet: --input)",
            param_hint="--target/--sampleset",
        ) from None


def _build(value: str) -> str:
    try:
        return GenomeBuild.target(value).value
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@pgs_app.command("score", cls=ListOptionsCommand)
def score(
    out_dir: Annotated[Path, typer.Option("--out", "-o", "--outdir", help="Output directory.")],
    build: Annotated[
        str,
        typer.Option(
            "--build",
            "--target_build",
            "--target-build",
            callback=_build,
            help="Genome build of the target: GRCh37 or GRCh38 (or hg19, hg38).",
        ),
    ],
    scores: Annotated[
        list[str] | None,
        typer.Option(
            "--scores",
            "-s",
            "--scorefile",
            show_default=False,
            help="Scoring files, folders of them, globs, or PGS Catalog ids (PGS, PGP, trait; "
            "any case); several after one --scores, or comma lists.",
        ),
    ] = None,
    pgs_id: Annotated[
        list[str] | None,
        typer.Option("--pgs_id", "--pgs-id", show_default=False, help="PGS Catalog score ids."),
    ] = None,
    pgp_id: Annotated[
        list[str] | None,
        typer.Option(
            "--pgp_id", "--pgp-id", show_default=False, help="PGS Catalog publication ids."
        ),
    ] = None,
    trait_efo: Annotated[
        list[str] | None,
        typer.Option(
            "--trait_efo",
            "--trait-efo",
            show_default=False,
            help="Trait ids (EFO_...): the scores of the trait and of its child traits.",
        ),
    ] = None,
    efo_direct: Annotated[
        bool,
        typer.Option(
            "--efo_direct", "--efo-direct", help="Only the trait's own scores, not its children's."
        ),
    ] = False,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            "-t",
            show_default=False,
            help="Genotypes: a VCF/BCF, or a PLINK 2 / PLINK 1 file or prefix (files split "
            "by chromosome: --input).",
        ),
    ] = None,
    samplesheet: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="Genotypes in a pgsc_calc samplesheet instead: .csv "
            "(sampleset,path_prefix,chrom,format) or .json.",
        ),
    ] = None,
    sampleset: Annotated[
        str | None,
        typer.Option(show_default=False, help="Name of --target's sampleset (default: cohort)."),
    ] = None,
    min_overlap: Annotated[
        float, typer.Option("--min-overlap", "--min_overlap", min=0.0, max=1.0)
    ] = 0.75,
    keep_ambiguous: Annotated[
        bool, typer.Option("--keep-ambiguous", "--keep_ambiguous", help="Score A/T, C/G sites.")
    ] = False,
    keep_multiallelic: Annotated[
        bool,
        typer.Option(
            "--keep-multiallelic", "--keep_multiallelic", help="Score multiallelic sites."
        ),
    ] = False,
    use_dosage: Annotated[bool, typer.Option(help="Read VCF DS instead of GT.")] = False,
    catalog_dir: Annotated[
        Path | None, typer.Option(help="PGS Catalog cache (VATTI_PGS_CATALOG_DIR).")
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Never download from the Catalog (VATTI_PGS_OFFLINE).")
    ] = False,
    ref_freqs: Annotated[
        Path | None,
        typer.Option(
            help="plink2 .afreq of a reference panel: impute missing calls from its frequencies."
        ),
    ] = None,
    liftover: Annotated[
        bool,
        typer.Option(
            "--liftover",
            help="Lift scoring files in the other build (GRCh37/GRCh38) to --build with --chain.",
        ),
    ] = False,
    chain: Annotated[
        Path | None,
        typer.Option(
            "--chain",
            "--chain_file",
            help="UCSC chain file for --liftover, from the scoring files' build to --build "
            "(e.g. hg19ToHg38.over.chain.gz).",
        ),
    ] = None,
    ancestry: Annotated[
        str | None,
        typer.Option(
            "--ancestry",
            "--run_ancestry",
            "--run-ancestry",
            show_default=False,
            help="Reference panel (PLINK 2/1 file or prefix; its .psam has --ref-label): "
            "genetic-ancestry similarity and normalised scores (pgsc_calc's --run_ancestry).",
        ),
    ] = None,
    ancestry_related: Annotated[
        Path | None,
        typer.Option(
            help="Related panel samples to leave out (default: the panel's .king.cutoff.out.id)."
        ),
    ] = None,
    ancestry_method: Annotated[
        str,
        typer.Option("--ancestry-method", "--ancestry_method", help="RandomForest or Mahalanobis."),
    ] = "RandomForest",
    ref_label: Annotated[
        str, typer.Option("--ref-label", "--ref_label", help="The panel's population label column.")
    ] = "SuperPop",
    n_popcomp: Annotated[
        int,
        typer.Option(
            "--n-popcomp", "--n_popcomp", min=1, max=20, help="PCs to compare populations."
        ),
    ] = 5,
    n_normalization: Annotated[
        int,
        typer.Option(
            "--n-normalization", "--n_normalization", min=1, max=20, help="PCs to normalise scores."
        ),
    ] = 4,
    normalization_method: Annotated[
        str,
        typer.Option(
            "--normalization-method",
            "--normalization_method",
            help="Of empirical, mean, mean+var (space or comma separated).",
        ),
    ] = "empirical mean mean+var",
    pval_threshold: Annotated[
        float | None,
        typer.Option(
            "--pval-threshold",
            "--pval_threshold",
            show_default=False,
            help="p under which a population similarity has low confidence "
            "(default: 0.5 RandomForest, 1e-10 Mahalanobis).",
        ),
    ] = None,
) -> None:
    """Score the target genomes with the scoring files; write aggregated scores and match
    reports to OUT.

    pgsc_calc's spellings are aliases (--pgs_id, --target_build, --min_overlap, ...); the
    Catalog is the one of VATTI_PGS_CATALOG_URL, never asked with VATTI_PGS_OFFLINE. A score
    that matches less than --min-overlap of its variants is not computed: it is marked failed
    in match_summary.tsv and named on stderr. When no score passes, nothing is scored and the
    command exits 65.
    """
    freeze_heap()  # every module the run needs is loaded
    if (target is None) == (samplesheet is None):
        raise typer.BadParameter("give the genotypes with --target or --input (one of them)")
    if samplesheet is not None and sampleset is not None:
        raise typer.BadParameter("a samplesheet names its samplesets", param_hint="--sampleset")
    ids = {"pgs_id": pgs_id or [], "pgp_id": pgp_id or [], "trait_efo": trait_efo or []}
    sources = score_sources(scores or [], ids)
    if not (sources.files or sources.ids):
        raise typer.BadParameter("give scores: --scores, --pgs_id, --pgp_id or --trait_efo")
    if samplesheet is not None:
        rows = read_samplesheet(samplesheet)
    else:
        rows = target_rows(target or [], sampleset or "cohort")
    if ref_freqs is not None and not ref_freqs.is_file():
        raise typer.BadParameter(f"{ref_freqs}: no such file", param_hint="--ref-freqs")
    if liftover != (chain is not None):
        raise typer.BadParameter(
            "--liftover needs --chain FILE, and --chain is only read with --liftover",
            param_hint="--liftover/--chain",
        )
    if chain is not None and not chain.is_file():
        raise typer.BadParameter(f"{chain}: no such file", param_hint="--chain")
    local = {p: Path(p) for row in rows for p in (row.geno, row.pheno, row.variants)}
    sets = samplesets(rows, local)
    files = sources.files + catalog_files(sources, build, catalog_dir, offline, efo_direct)
    options = CalcOptions(
        build, min_overlap, keep_ambiguous, keep_multiallelic, use_dosage, ref_freqs, chain
    )
    if ancestry is None:
        result = calculate(files, sets, options, out_dir)
    else:
        from vatti.pipelines.pgs.ancestry.options import ancestry_options, reference_panel
        from vatti.pipelines.pgs.ancestry.panel import calculate_with_ancestry

        result = calculate_with_ancestry(
            files,
            sets,
            options,
            out_dir,
            reference_panel(target_file(ancestry), ancestry_related),
            ancestry_options(
                ancestry_method,
                ref_label,
                n_popcomp,
                n_normalization,
                normalization_method,
                pval_threshold,
            ),
        )
    n_scores = result.scores["PGS"].n_unique()
    targets = result.scores.filter(pl.col("sampleset") != "reference") if ancestry else None
    n_samples = (result.scores if targets is None else targets).height // max(n_scores, 1)
    typer.echo(
        f"{n_scores} score(s) x {n_samples} sample(s) in {result.timings['total']:.2f}s; "
        f"outputs in {out_dir}: {', '.join(result.outputs)}"
    )
    for line in failed_scores(result.failed):
        err.print(
            f"warning: {line}: not computed (see {SUMMARY_TSV})",
            style="yellow",
            soft_wrap=True,
            highlight=False,
        )


@pgs_app.command("demo-data")
def demo_data(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where to write the demo data.")],
    samples: Annotated[int, typer.Option(min=10)] = 500,
    variants: Annotated[int, typer.Option(min=100)] = 20_000,
    seed: int = DEMO_SEED,
) -> None:
    """Write a small synthetic cohort (PLINK 2) and two scoring files, deterministically."""
    from vatti.pipelines.pgs.synthetic import CohortSpec, ScoreSpec, write_pfile, write_scorefile

    cohort = CohortSpec(n_samples=samples, n_variants=variants, seed=seed)
    made = write_pfile(out_dir / "cohort", cohort)
    for k, size in enumerate((variants // 4, variants // 20)):
        spec = ScoreSpec(size, pgs_id=f"PGS99990{k + 1}", seed=seed + k + 1, case_seed=seed)
        write_scorefile(out_dir / f"PGS99990{k + 1}.txt.gz", made, spec)
    typer.echo(f"demo data ({samples} samples x {variants} variants, seed {seed}) in {out_dir}")
