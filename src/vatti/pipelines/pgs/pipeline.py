"""The ``pgs`` pipeline: hattivatti's job message in, the PGS Catalog Calculator's outputs out.

The files a request names (genotypes, scoring files, reference frequencies) are declared
inputs: the runtime stages them (:mod:`vatti.staging.sources`: local paths only under the input
root, ``VATTI_INPUT_ROOT``, after resolving symbolic links; the files of ``globus_details``
from the transfer collection, crypt4gh ones decrypted) and the pipeline reads the staged paths.
Catalog ids are resolved through the local cache (``VATTI_PGS_CATALOG_DIR``) and downloaded from
the PGS Catalog when missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from vatti.domain.inputs import DeclaredInput, KeyRef
from vatti.domain.match_rates import SUMMARY_KEY, MatchRateSummary
from vatti.domain.outcome import JobWarning
from vatti.pipelines.base import PipelineOutcome, RunContext
from vatti.pipelines.errors import StepFailed
from vatti.pipelines.pgs.catalog import Catalog
from vatti.pipelines.pgs.match import failed_line
from vatti.pipelines.pgs.orchestration import MIN_OVERLAP_CODE, CalcOptions, calculate
from vatti.pipelines.pgs.params import PgsParams, TargetGenome, decrypted_name
from vatti.pipelines.pgs.targets.base import GenotypeFile, Sampleset
from vatti.pipelines.pgs.vocabulary import TargetFormat


def declared_inputs(params: PgsParams) -> list[DeclaredInput]:
    """Every file the params name (genotypes, scoring files, reference frequencies, the chain
    file), each once,
    keyed by the name the request gives it: from the transfer collection when
    ``globus_details`` lists it (``x.pgen`` as ``x.pgen.c4gh``, decrypted with the key of
    ``secret_key_details``), else a local path. Collection files no field names are staged too
    (hattivatti's transfer fetches every file it lists)."""
    paths = [p for row in params.target_genomes for p in (row.geno, row.pheno, row.variants)]
    paths += params.scorefiles
    if params.reference_freqs is not None:
        paths.append(params.reference_freqs)
    if params.chain_file is not None:
        paths.append(params.chain_file)
    if params.ancestry is not None:
        paths += params.ancestry.files()
    remote = collection_inputs(params)
    local = [DeclaredInput(key=p, location=p) for p in dict.fromkeys(paths) if p not in remote]
    return local + list(remote.values())


def collection_inputs(params: PgsParams) -> dict[str, DeclaredInput]:
    """The files of ``globus_details`` by the name they are staged under (the first of two
    files staged under one name wins)."""
    details = params.globus_details
    if details is None:
        return {}
    keys = params.secret_key_details
    ref = KeyRef(keys.secret_id, keys.secret_id_version) if keys is not None else None
    out: dict[str, DeclaredInput] = {}
    for item in details.files:
        declared = DeclaredInput(
            key=decrypted_name(item.filename),
            location=details.path_of(item),
            size=item.size,
            sha256=item.sha256,
            from_collection=True,
            key_ref=ref,
        )
        out.setdefault(declared.key, declared)
    return out


def check_one_vcf(row: TargetGenome, staged: Mapping[str, Path]) -> None:
    """A vcf row reads one file: its geno, pheno and variants must name it (the schema cannot
    say so; checked once they are staged, so two spellings of one path are the same file)."""
    if row.format is not TargetFormat.VCF:
        return
    geno = staged[row.geno]
    for name, value in (("pheno", row.pheno), ("variants", row.variants)):
        if not staged[value].samefile(geno):
            raise StepFailed(
                "inputs",
                f"sampleset {row.sampleset!r}: a vcf target is one file, but {name} {value!r} "
                f"is not geno {row.geno!r}",
                code="invalid_params",
            )


def samplesets(targets: list[TargetGenome], staged: Mapping[str, Path]) -> list[Sampleset]:
    """Group the samplesheet rows by sampleset, in first-seen order."""
    grouped: dict[str, list[GenotypeFile]] = {}
    for row in targets:
        check_one_vcf(row, staged)
        grouped.setdefault(row.sampleset, []).append(
            GenotypeFile(
                row.format,
                staged[row.geno],
                staged[row.variants],
                staged[row.pheno],
                row.chrom,
                row.vcf_import_dosage,
            )
        )
    return [Sampleset(name, files) for name, files in grouped.items()]


def scorefiles(params: PgsParams, ctx: RunContext) -> list[Path]:
    """The staged scoring files, then those of the Catalog ids (from the cache or the Catalog)."""
    settings = ctx.settings
    paths = [ctx.inputs[p] for p in params.scorefiles]
    if params.pgs_id or params.pgp_id or params.trait_efo:
        access = settings.pgs_catalog
        if access is None:
            raise StepFailed(
                "inputs",
                "catalog ids given, but this runtime has no PGS Catalog configured",
                code="input_refused",
            )
        catalog = Catalog(access.cache_dir, base_url=access.url, offline=access.offline)
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


#: The summary columns a failed score's warning carries (its ``data``).
WARNING_COLUMNS = ("sampleset", "accession", "n_variants", "n_matched", "match_rate", "min_overlap")


def failed_score_warnings(failed: pl.DataFrame) -> list[JobWarning]:
    """One warning per score not computed (summary rows that did not pass), with its rate."""
    return [
        JobWarning(
            MIN_OVERLAP_CODE,
            failed_line(row) + " (not computed)",
            {name: row[name] for name in WARNING_COLUMNS},
        )
        for row in failed.iter_rows(named=True)
    ]


class PgsPipeline:
    name = "pgs"
    params_model = PgsParams

    def inputs(self, params: PgsParams) -> list[DeclaredInput]:
        return declared_inputs(params)

    def run(self, params: PgsParams, ctx: RunContext) -> PipelineOutcome:
        sets = samplesets(params.target_genomes, ctx.inputs)
        freqs = None
        if params.reference_freqs is not None:
            freqs = ctx.inputs[params.reference_freqs]
        chain = None if params.chain_file is None else ctx.inputs[params.chain_file]
        files = scorefiles(params, ctx)
        ctx.log.info("pgs.start samplesets=%d scorefiles=%d", len(sets), len(files))
        options = CalcOptions(
            target_build=params.target_build,
            min_overlap=params.min_overlap,
            keep_ambiguous=params.keep_ambiguous,
            keep_multiallelic=params.keep_multiallelic,
            use_dosage=params.use_dosage,
            reference_freqs=freqs,
            liftover_chain=chain,
        )
        if params.ancestry is None:
            result = calculate(files, sets, options, ctx.output_dir)
        else:
            from vatti.pipelines.pgs.ancestry.panel import calculate_with_ancestry, job_panel

            panel = job_panel(params.ancestry, ctx.inputs)
            result = calculate_with_ancestry(
                files, sets, options, ctx.output_dir, panel, params.ancestry.options()
            )
        ctx.log.info("pgs.done rows=%d seconds=%.2f", result.scores.height, result.timings["total"])
        rates = MatchRateSummary.of(
            result.summary["match_rate"].to_list(), passed=int(result.summary["passed"].sum())
        )
        return PipelineOutcome(
            result.outputs,
            warnings=failed_score_warnings(result.failed),
            summary={SUMMARY_KEY: rates.to_dict()},
        )
