"""The ``pgs`` pipeline: hattivatti's job message in, the PGS Catalog Calculator's outputs out.

Local paths in a request (genotypes, scoring files) are read only under the runtime's input root
(``VATTI_INPUT_ROOT``; ``vatti run`` uses the current directory), after resolving symbolic
links, so a request cannot read arbitrary files of the server. Catalog ids are resolved through
the local cache (``VATTI_PGS_CATALOG_DIR``) and downloaded from the PGS Catalog when missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vatti.pipelines.base import PipelineOutcome, RunContext
from vatti.pipelines.errors import StepFailed
from vatti.pipelines.pgs.calculate import CalcOptions, calculate
from vatti.pipelines.pgs.catalog import Catalog
from vatti.pipelines.pgs.params import PgsParams, TargetGenome
from vatti.pipelines.pgs.targets.base import GenotypeFile, Sampleset


def resolve_input(value: str, options: Mapping[str, str]) -> Path:
    """``value`` as a path under the input root; refuse anything outside it."""
    root_text = options.get("input_root")
    if not root_text:
        raise StepFailed(
            "inputs",
            f"local input {value!r} refused: this server reads no local files "
            "(set VATTI_INPUT_ROOT to allow a directory)",
            code="input_refused",
        )
    root = Path(root_text).resolve()
    path = (root / value).resolve()
    if not path.is_relative_to(root):
        raise StepFailed(
            "inputs", f"local input {value!r} lies outside the input root", code="input_refused"
        )
    if not path.is_file():
        raise StepFailed("inputs", f"input file {value!r} does not exist", code="input_missing")
    return path


def samplesets(targets: list[TargetGenome], options: Mapping[str, str]) -> list[Sampleset]:
    """Group the samplesheet rows by sampleset, in first-seen order."""
    grouped: dict[str, list[GenotypeFile]] = {}
    for row in targets:
        geno = resolve_input(row.geno, options)
        variants = resolve_input(row.variants, options)
        samples = resolve_input(row.pheno, options)
        grouped.setdefault(row.sampleset, []).append(
            GenotypeFile(
                row.format.value, geno, variants, samples, row.chrom, row.vcf_import_dosage
            )
        )
    return [Sampleset(name, files) for name, files in grouped.items()]


def scorefiles(params: PgsParams, options: Mapping[str, str], work_dir: Path) -> list[Path]:
    paths = [resolve_input(p, options) for p in params.scorefiles]
    if params.pgs_id or params.pgp_id or params.trait_efo:
        cache = Path(options.get("pgs_catalog_dir") or work_dir / "pgs-catalog")
        catalog = Catalog(
            cache,
            base_url=options.get("pgs_catalog_url") or "https://www.pgscatalog.org/rest/",
            offline=options.get("pgs_offline") == "1",
        )
        try:
            paths += catalog.resolve(
                pgs_ids=params.pgs_id,
                pgp_ids=params.pgp_id,
                trait_efos=params.trait_efo,
                build=params.target_build,
            )
        finally:
            catalog.close()
    return paths


class PgsPipeline:
    name = "pgs"
    params_model = PgsParams

    def run(self, params: PgsParams, ctx: RunContext) -> PipelineOutcome:
        sets = samplesets(params.target_genomes, ctx.options)
        freqs = None
        if params.reference_freqs is not None:
            freqs = resolve_input(params.reference_freqs, ctx.options)
        files = scorefiles(params, ctx.options, ctx.work_dir)  # local inputs checked first
        ctx.log.info("pgs.start samplesets=%d scorefiles=%d", len(sets), len(files))
        result = calculate(
            files,
            sets,
            CalcOptions(
                target_build=params.target_build,
                min_overlap=params.min_overlap,
                keep_ambiguous=params.keep_ambiguous,
                keep_multiallelic=params.keep_multiallelic,
                use_dosage=params.use_dosage,
                reference_freqs=freqs,
            ),
            ctx.output_dir,
        )
        ctx.log.info("pgs.done rows=%d seconds=%.2f", result.scores.height, result.timings["total"])
        return PipelineOutcome(result.outputs)
