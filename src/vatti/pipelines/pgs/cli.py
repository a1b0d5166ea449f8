"""``vatti pgs``: the polygenic score calculator on its own, and its demo data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vatti.errors import VattiError
from vatti.pipelines.base import JobSettings, PgsCatalogAccess
from vatti.pipelines.pgs.catalog import Catalog
from vatti.pipelines.pgs.match import failed_scores
from vatti.pipelines.pgs.orchestration import SUMMARY_TSV, CalcOptions, calculate
from vatti.pipelines.pgs.targets.base import GenotypeFile, Sampleset
from vatti.pipelines.pgs.vocabulary import TargetFormat

#: registered lazily by :mod:`vatti.cli` as ``vatti pgs`` (which holds its help)
pgs_app = typer.Typer()
out = Console()
err = Console(stderr=True)

_CATALOG_ID = re.compile(r"^(PGS|PGP)\d{6}$|^[A-Za-z]+_\d+$")
DEMO_SEED = 20261125


def target_file(value: str) -> GenotypeFile:
    """A genotype file set from a path: a VCF/BCF file, or a PLINK 2 / PLINK 1 file or prefix."""
    path = Path(value)
    found = TargetFormat.of_name(path.name)
    if found is not None:
        fmt, name = found
        prefix = path.with_name(name)
    elif Path(f"{path}.pgen").exists():
        fmt, prefix = TargetFormat.PFILE, path
    elif Path(f"{path}.bed").exists():
        fmt, prefix = TargetFormat.BFILE, path
    else:
        raise typer.BadParameter(
            f"{value}: no VCF/BCF file, nor {path}.pgen or {path}.bed", param_hint="--target"
        )
    file = GenotypeFile.from_prefix(fmt, prefix)
    try:
        file.check_exists()
    except VattiError as exc:
        raise typer.BadParameter(exc.message, param_hint="--target") from exc
    return file


def catalog_access() -> PgsCatalogAccess:
    """The PGS Catalog of the runtime's settings (``VATTI_PGS_CATALOG_DIR``, ``..._URL``...)."""
    from vatti.config import Settings

    access = JobSettings.from_settings(Settings.for_component("runtime")).pgs_catalog
    assert access is not None, "the runtime settings were not loaded"
    return access


@pgs_app.command("score")
def score(
    scores: Annotated[
        list[str],
        typer.Option("--scores", "-s", help="Scoring files, or PGS/PGP/trait ids (repeatable)."),
    ],
    target: Annotated[
        list[str],
        typer.Option(
            "--target", "-t", help="Genotypes: VCF/BCF or PLINK prefix (repeat: one per chrom)."
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    build: Annotated[str, typer.Option(help="Genome build of the target: GRCh37 or GRCh38.")],
    sampleset: Annotated[str, typer.Option(help="Name of the sampleset.")] = "cohort",
    min_overlap: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.75,
    keep_ambiguous: bool = False,
    keep_multiallelic: bool = False,
    use_dosage: Annotated[bool, typer.Option(help="Read VCF DS instead of GT.")] = False,
    catalog_dir: Annotated[
        Path | None, typer.Option(help="PGS Catalog cache (VATTI_PGS_CATALOG_DIR).")
    ] = None,
    offline: Annotated[bool, typer.Option(help="Never download from the Catalog.")] = False,
    ref_freqs: Annotated[
        Path | None,
        typer.Option(
            help="plink2 .afreq of a reference panel: impute missing calls from its frequencies."
        ),
    ] = None,
) -> None:
    """Score TARGET with SCORES; write aggregated scores and match reports to OUT.

    A score that matches less than --min-overlap of its variants is not computed: it is marked
    failed in match_summary.tsv and named on stderr. When no score passes, nothing is scored
    and the command exits 65.
    """
    if build not in ("GRCh37", "GRCh38"):
        raise typer.BadParameter("use GRCh37 or GRCh38", param_hint="--build")
    files = [Path(s) for s in scores if not _CATALOG_ID.match(s) or Path(s).exists()]
    ids = [s for s in scores if _CATALOG_ID.match(s) and not Path(s).exists()]
    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"{path}: no such scoring file", param_hint="--scores")
    if ids:
        access = catalog_access()
        catalog = Catalog(
            catalog_dir or access.cache_dir,
            base_url=access.url,
            offline=offline or access.offline,
        )
        try:
            files += catalog.resolve(
                pgs_ids=[i for i in ids if i.startswith("PGS")],
                pgp_ids=[i for i in ids if i.startswith("PGP")],
                trait_efos=[i for i in ids if not i.startswith(("PGS", "PGP"))],
                build=build,
            )
        finally:
            catalog.close()
    samples = Sampleset(sampleset, [target_file(t) for t in target])
    if ref_freqs is not None and not ref_freqs.is_file():
        raise typer.BadParameter(f"{ref_freqs}: no such file", param_hint="--ref-freqs")
    options = CalcOptions(
        build, min_overlap, keep_ambiguous, keep_multiallelic, use_dosage, ref_freqs
    )
    result = calculate(files, [samples], options, out_dir)
    n_scores = result.scores["PGS"].n_unique()
    n_samples = result.scores.height // max(n_scores, 1)
    out.print(
        f"{n_scores} score(s) x {n_samples} sample(s) in {result.timings['total']:.2f}s; "
        f"outputs in {out_dir}: {', '.join(result.outputs)}",
        soft_wrap=True,
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
    out.print(f"demo data ({samples} samples x {variants} variants, seed {seed}) in {out_dir}")
