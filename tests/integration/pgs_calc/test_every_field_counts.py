"""Every field a ``pgs`` job request accepts changes what the job does, or is informational and
says so in its description (hence in the OpenAPI document).

The test walks the request model (``PgsJobRequest``: the envelope, ``params`` and every nested
model, through pydantic's ``model_fields``). Each leaf field is either in :data:`EFFECTS`, with a
change of its value that must change what is observed (the job the service stores, or the
outputs and failure of the pipeline run on small data), or in :data:`INFORMATIONAL`, with a
change that must change nothing. A field added to the model without being listed here fails
:func:`test_every_field_is_listed`; a listed field that stops mattering fails its own test.

The data: a synthetic PLINK 2 cohort (20 samples, 300 variants on chromosome 22) and a second
one for the file fields; a reference panel of the first one's variants (150 samples, labelled)
for the ancestry fields; two tiny hand-written VCFs (GT and DS; ambiguous and multiallelic
sites); a scoring file at shifted "GRCh38" positions and two chain files back to GRCh37;
Catalog scores in an offline cache, and a local stand-in of the Catalog's REST API for
the publication and trait ids.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import itertools
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from vatti.domain.access import OPERATOR_CALLER
from vatti.domain.requests import JobRequest, pipeline_request_models
from vatti.engine.deadlines import job_resources
from vatti.errors import VattiError
from vatti.pipelines.base import JobSettings, PgsCatalogAccess, RunContext, default_registry
from vatti.pipelines.pgs import synthetic as syn
from vatti.pipelines.pgs.catalog import harmonized_name
from vatti.pipelines.pgs.params import PgsParams
from vatti.pipelines.pgs.pipeline import PgsPipeline
from vatti.runtime.execute import run_pipeline
from vatti.service.requests import new_job
from vatti.testing.catalog import CatalogServer, FakeCatalog

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
COHORT = syn.CohortSpec(n_samples=20, n_variants=300, seed=951, missing_rate=0.05)
OTHER = syn.CohortSpec(n_samples=20, n_variants=300, seed=952, missing_rate=0.05)

VCF_HEADER = """##fileformat=VCFv4.2
##contig=<ID=22>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\ts3\ts4
"""
#: GT and DS that disagree: reading DS changes the sums
DOSAGE_VCF = VCF_HEADER + (
    "22\t100\tv1\tA\tG\t.\t.\t.\tGT:DS\t0/1:0.9\t1/1:1.7\t0/0:0.2\t0/1:1.1\n"
    "22\t200\tv2\tC\tT\t.\t.\t.\tGT:DS\t0/0:0.1\t0/1:1.2\t1/1:1.9\t0/1:0.8\n"
)
#: an ambiguous site (22:300 A/T) and a multiallelic one (22:400 G/A,C)
SITES_VCF = VCF_HEADER.replace("GT:DS", "GT") + (
    "22\t100\tv1\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0\t0/1\n"
    "22\t200\tv2\tC\tT\t.\t.\t.\tGT\t0/0\t0/1\t1/1\t0/1\n"
    "22\t300\tv3\tA\tT\t.\t.\t.\tGT\t0/1\t0/0\t1/1\t0/1\n"
    "22\t400\tv4\tG\tA,C\t.\t.\t.\tGT\t0/1\t1/2\t0/0\t2/2\n"
)
VCF_SCORE = """#pgs_id=PGS999904
#trait_reported=test
#genome_build=GRCh37
chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight
22\t100\tG\tA\t1
22\t200\tT\tC\t10
22\t300\tT\tA\t100
22\t400\tA\tG\t1000
"""


@dataclass(frozen=True)
class Shared:
    root: Path  # the input root
    cache: Path  # the Catalog cache
    catalog_url: str
    work: Path  # where each run gets a fresh directory


@pytest.fixture(scope="module")
def fake_catalog() -> Iterator[FakeCatalog]:
    server = CatalogServer()
    try:
        server.state.json(
            "/rest/publication/PGP999901", {"associated_pgs_ids": {"x": ["PGS999903"]}}
        )
        server.state.json(
            "/rest/trait/EFO_0000001?include_children=1", {"associated_pgs_ids": ["PGS999903"]}
        )
        yield server.state
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, fake_catalog: FakeCatalog) -> Shared:
    base = tmp_path_factory.mktemp("every-field")
    root, cache = base / "inputs", base / "catalog"
    variants = syn.write_pfile(root / "a", COHORT)
    syn.write_pfile(root / "b", OTHER)
    psam = (root / "a.psam").read_text()
    (root / "renamed.psam").write_text(psam.replace("S0", "R0"))
    for pgs_id, seed in (("PGS999901", 1), ("PGS999903", 3)):
        spec = syn.ScoreSpec(120, pgs_id=pgs_id, seed=seed)
        syn.write_scorefile(cache / harmonized_name(pgs_id, "GRCh37"), variants, spec)
    syn.write_scorefile(root / "local.txt.gz", variants, syn.ScoreSpec(60, "PGS999902", seed=2))
    ids = variants.id_series().to_list()
    afreq = "".join(
        f"{i}\t{r}\t{a}\t0.3\n" for i, r, a in zip(ids, variants.ref, variants.alt, strict=True)
    )
    (root / "ref.afreq").write_text("ID\tREF\tALT\tALT_FREQS\n" + afreq)
    (root / "dosage.vcf").write_text(DOSAGE_VCF)
    (root / "sites.vcf").write_text(SITES_VCF)
    (root / "vcf_score.txt").write_text(VCF_SCORE)
    write_lifted(root, variants)
    write_panel(root)
    return Shared(root, cache, f"{fake_catalog.url}/rest/", base / "runs")


#: chr22 sizes of the builds (the chain direction check reads them)
SIZE37, SIZE38 = 51_304_566, 50_818_468


def write_lifted(root: Path, variants: syn.Variants) -> None:
    """A scoring file at "GRCh38" positions 1,000 bp above the cohort's GRCh37 ones, the chain
    that lifts them back, and one that lifts them 1 bp wrong."""
    syn.write_scorefile(root / "local37.txt", variants, syn.ScoreSpec(60, "PGS999904", seed=4))
    lines = []
    for line in (root / "local37.txt").read_text().splitlines():
        fields = line.split("\t")
        if line.startswith("#genome_build="):
            line = "#genome_build=GRCh38"
        elif not line.startswith("#") and fields[1].isdigit():
            fields[1] = str(int(fields[1]) + 1000)
            line = "\t".join(fields)
        lines.append(line)
    (root / "lifted38.txt").write_text("\n".join(lines) + "\n")
    for name, target in (("lift.chain", 0), ("wrong.chain", 1)):
        size = SIZE38 - 1000
        (root / name).write_text(
            f"chain 1 chr22 {SIZE38} + 1000 {SIZE38} chr22 {SIZE37} + {target} "
            f"{target + size} 1\n{size}\n"
        )


#: the ancestry reference panel: the cohort's variants, 150 other samples with two labels
PANEL = syn.CohortSpec(n_samples=150, n_variants=300, seed=951, missing_rate=0.05)


def write_panel(root: Path) -> None:
    """``panel.*``; ``panel2.pgen`` (other genotypes), ``panel_swapped.pvar`` (REF/ALT swapped
    at 100 variants), ``panel_other.psam`` (other labels), ``related.txt`` (10 of its samples)."""
    syn.write_pfile(root / "panel", PANEL)
    syn.write_pfile(root / "panel2", dataclasses.replace(PANEL, missing_rate=0.02))
    iids = [f"P{k:03d}" for k in range(PANEL.n_samples)]
    rows = [f"{i}\t{'ABC'[k % 3]}\t{'VWXYZ'[k % 5]}" for k, i in enumerate(iids)]
    (root / "panel.psam").write_text("#IID\tSuperPop\tPopulation\n" + "\n".join(rows) + "\n")
    other = [f"{i}\t{'AB'[k % 2]}\tV" for k, i in enumerate(iids)]
    (root / "panel_other.psam").write_text("#IID\tSuperPop\tPopulation\n" + "\n".join(other) + "\n")
    lines = (root / "panel.pvar").read_text().splitlines()
    body = [line.split("\t") for line in lines[1:]]
    for cols in body[:100]:
        cols[3], cols[4] = cols[4], cols[3]
    swapped = [lines[0], *("\t".join(cols) for cols in body)]
    (root / "panel_swapped.pvar").write_text("\n".join(swapped) + "\n")
    (root / "related.txt").write_text("#IID\n" + "".join(f"{i}\n" for i in iids[:10]))


def pfile(prefix: str = "a") -> dict[str, Any]:
    return {
        "sampleset": "cohort",
        "chrom": "22",
        "geno": f"{prefix}.pgen",
        "pheno": f"{prefix}.psam",
        "variants": f"{prefix}.pvar",
        "format": "pfile",
    }


def vcf(name: str) -> dict[str, Any]:
    return {"sampleset": "cohort", "geno": name, "pheno": name, "variants": name, "format": "vcf"}


BASES: dict[str, dict[str, Any]] = {
    # hattivatti's message
    "hattivatti": {
        "pipeline": "pgs",
        "client_id": "INTP00000001",
        "params": {
            "id": "INTP00000001",
            "target_genomes": [pfile()],
            "nxf_params_file": {"pgs_id": "PGS999901", "format": "json", "target_build": "GRCh37"},
        },
    },
    "flat": {
        "pipeline": "pgs",
        "params": {"target_genomes": [pfile()], "pgs_id": ["PGS999901"], "target_build": "GRCh37"},
    },
    "dosage": {
        "pipeline": "pgs",
        "params": {
            "target_genomes": [vcf("dosage.vcf")],
            "scorefiles": ["vcf_score.txt"],
            "target_build": "GRCh37",
            "min_overlap": 0.25,
        },
    },
    "encrypted": {  # hattivatti's shape: the genotypes on the transfer collection, encrypted
        "pipeline": "pgs",
        "params": {
            "target_genomes": [pfile()],
            "pgs_id": ["PGS999901"],
            "target_build": "GRCh37",
            "globus_details": {
                "dir_path_on_guest_collection": "intervene/run-1",
                "files": [
                    {"filename": f"a.{suffix}.c4gh", "size": 1000, "sha256": "ab" * 32}
                    for suffix in ("pgen", "pvar", "psam")
                ],
            },
            "secret_key_details": {
                "secret_id": "0a4c8a43-7d2f-4b8e-9a36-2b1f6c9d5e71",
                "secret_id_version": "1",
            },
        },
    },
    "lifted": {
        "pipeline": "pgs",
        "params": {
            "target_genomes": [pfile()],
            "scorefiles": ["lifted38.txt"],
            "target_build": "GRCh37",
            "liftover": True,
            "chain_file": "lift.chain",
            "min_overlap": 0.5,
        },
    },
    "ancestry": {
        "pipeline": "pgs",
        "params": {
            "target_genomes": [pfile()],
            "pgs_id": ["PGS999901"],
            "target_build": "GRCh37",
            "ancestry": {
                "geno": "panel.pgen",
                "pheno": "panel.psam",
                "variants": "panel.pvar",
                "format": "pfile",
            },
        },
    },
    "sites": {
        "pipeline": "pgs",
        "params": {
            "target_genomes": [vcf("sites.vcf")],
            "scorefiles": ["vcf_score.txt"],
            "target_build": "GRCh37",
            "min_overlap": 0.25,
        },
    },
}

Mutation = Callable[[dict[str, Any]], None]


def setting(*path: str | int, value: Any) -> Mutation:
    """Set the value at ``path`` (keys and list indexes) of a request body."""

    def mutate(body: dict[str, Any]) -> None:
        node: Any = body
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
        node[path[-1]] = value

    return mutate


def dropping(*path: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        node: Any = body
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def target(field: str, value: Any) -> Mutation:
    return setting("params", "target_genomes", 0, field, value=value)


def nested(field: str, value: Any) -> Mutation:
    return setting("params", "nxf_params_file", field, value=value)


def param(field: str, value: Any) -> Mutation:
    return setting("params", field, value=value)


def keyed(field: str, value: Any) -> Mutation:
    return setting("params", "secret_key_details", field, value=value)


def panel(field: str, value: Any) -> Mutation:
    return setting("params", "ancestry", field, value=value)


def transferred(field: str, value: Any) -> Mutation:
    return setting("params", "globus_details", "files", 0, field, value=value)


def without_liftover(body: dict[str, Any]) -> None:
    """liftover false (and so no chain_file: it is refused without liftover)."""
    body["params"]["liftover"] = False
    del body["params"]["chain_file"]


@dataclass(frozen=True)
class Effect:
    #: "job": the job the service stores; "inputs": the files the job fetches (and how it opens
    #: them); "run": the pipeline's outputs or failure
    level: str
    base: str
    change: Mutation


#: Each field that counts: a base request and a change of the field that must show.
EFFECTS: dict[str, Effect] = {
    "pipeline": Effect("job", "hattivatti", setting("pipeline", value="command")),
    "client_id": Effect("job", "hattivatti", setting("client_id", value="INTP00000002")),
    "webhook_url": Effect("job", "hattivatti", setting("webhook_url", value="https://b.example/h")),
    "results_public_key": Effect(
        "job",
        "hattivatti",
        setting("results_public_key", value="AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="),
    ),
    "resources.memory_mb": Effect(
        "job", "hattivatti", setting("resources", "memory_mb", value=512)
    ),
    "resources.wall_time_s": Effect(
        "job", "hattivatti", setting("resources", "wall_time_s", value=600)
    ),
    "params.target_genomes.sampleset": Effect("run", "hattivatti", target("sampleset", "other")),
    "params.target_genomes.chrom": Effect("run", "hattivatti", target("chrom", "21")),
    "params.target_genomes.vcf_import_dosage": Effect(
        "run", "dosage", target("vcf_import_dosage", True)
    ),
    "params.target_genomes.geno": Effect("run", "hattivatti", target("geno", "b.pgen")),
    "params.target_genomes.pheno": Effect("run", "hattivatti", target("pheno", "renamed.psam")),
    "params.target_genomes.variants": Effect("run", "hattivatti", target("variants", "b.pvar")),
    "params.target_genomes.format": Effect("run", "hattivatti", target("format", "bfile")),
    "params.pgs_id": Effect("run", "flat", param("pgs_id", ["PGS999903"])),
    "params.pgp_id": Effect("run", "flat", param("pgp_id", ["PGP999901"])),
    "params.trait_efo": Effect("run", "flat", param("trait_efo", "EFO_0000001")),
    "params.scorefiles": Effect("run", "flat", param("scorefiles", ["local.txt.gz"])),
    "params.target_build": Effect("run", "flat", param("target_build", "GRCh38")),
    "params.min_overlap": Effect("run", "flat", param("min_overlap", 0.99)),
    "params.keep_ambiguous": Effect("run", "sites", param("keep_ambiguous", True)),
    "params.keep_multiallelic": Effect("run", "sites", param("keep_multiallelic", True)),
    "params.use_dosage": Effect("run", "dosage", param("use_dosage", True)),
    "params.reference_freqs": Effect("run", "flat", param("reference_freqs", "ref.afreq")),
    "params.liftover": Effect("run", "lifted", without_liftover),
    "params.chain_file": Effect("run", "lifted", param("chain_file", "wrong.chain")),
    "params.ancestry.geno": Effect("run", "ancestry", panel("geno", "panel2.pgen")),
    "params.ancestry.pheno": Effect("run", "ancestry", panel("pheno", "panel_other.psam")),
    "params.ancestry.variants": Effect("run", "ancestry", panel("variants", "panel_swapped.pvar")),
    "params.ancestry.format": Effect("run", "ancestry", panel("format", "bfile")),
    "params.ancestry.related": Effect("run", "ancestry", panel("related", "related.txt")),
    "params.ancestry.method": Effect("run", "ancestry", panel("method", "Mahalanobis")),
    "params.ancestry.ref_label": Effect("run", "ancestry", panel("ref_label", "Population")),
    "params.ancestry.n_popcomp": Effect("run", "ancestry", panel("n_popcomp", 2)),
    "params.ancestry.n_normalization": Effect("run", "ancestry", panel("n_normalization", 2)),
    "params.ancestry.normalization_method": Effect(
        "run", "ancestry", panel("normalization_method", ["empirical"])
    ),
    "params.ancestry.pval_threshold": Effect("run", "ancestry", panel("pval_threshold", 0.99)),
    "params.nxf_params_file.pgs_id": Effect("run", "hattivatti", nested("pgs_id", "PGS999903")),
    "params.nxf_params_file.pgp_id": Effect("run", "hattivatti", nested("pgp_id", "PGP999901")),
    "params.nxf_params_file.trait_efo": Effect(
        "run", "hattivatti", nested("trait_efo", ["EFO_0000001"])
    ),
    "params.nxf_params_file.target_build": Effect(
        "run", "hattivatti", nested("target_build", "GRCh38")
    ),
    "params.nxf_params_file.min_overlap": Effect("run", "hattivatti", nested("min_overlap", 0.99)),
    "params.globus_details.dir_path_on_guest_collection": Effect(
        "inputs",
        "encrypted",
        setting("params", "globus_details", "dir_path_on_guest_collection", value="other/run"),
    ),
    "params.globus_details.files.filename": Effect(
        "inputs", "encrypted", transferred("filename", "b.pgen.c4gh")
    ),
    "params.globus_details.files.size": Effect("inputs", "encrypted", transferred("size", 999)),
    "params.globus_details.files.sha256": Effect(
        "inputs", "encrypted", transferred("sha256", "cd" * 32)
    ),
    "params.secret_key_details.secret_id": Effect(
        "inputs",
        "encrypted",
        setting(
            "params",
            "secret_key_details",
            "secret_id",
            value="1b5d9b54-8e3f-4c9f-8b47-3c2e7d0e6f82",
        ),
    ),
    "params.secret_key_details.secret_id_version": Effect(
        "inputs",
        "encrypted",
        setting("params", "secret_key_details", "secret_id_version", value="2"),
    ),
}

#: Each field that changes nothing the job does, with a change that must not show.
INFORMATIONAL: dict[str, Mutation] = {
    "params.id": param("id", "INTP00000099"),
    "params.nxf_params_file.format": dropping("params", "nxf_params_file", "format"),
    "labels": setting("labels", value={"project": "demo"}),
}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def leaf_fields(model: type[BaseModel], prefix: str = "") -> dict[str, FieldInfo]:
    """Every field of ``model`` that holds no model, by dotted path (into lists and unions)."""
    leaves: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        inner = _models_in(info.annotation)
        for nested_model in inner:
            leaves |= leaf_fields(nested_model, f"{prefix}{name}.")
        if not inner:
            leaves[f"{prefix}{name}"] = info
    return leaves


def pgs_request_model() -> type[BaseModel]:
    [model] = [
        m
        for m in pipeline_request_models(REGISTRY.params_models())
        if m.__name__ == "PgsJobRequest"
    ]
    return model


LEAVES = leaf_fields(pgs_request_model())
_runs = itertools.count()


def observe_job(body: dict[str, Any]) -> object:
    """What the service makes of the request: the job it stores (or its refusal), with the
    recipient key its runtime encrypts the results for."""
    try:
        new = new_job(JobRequest.model_validate(body), REGISTRY, OPERATOR_CALLER)
    except (ValidationError, VattiError) as exc:
        return ("refused", str(exc))
    recipient = new.spec.get("results_public_key")
    return (new.pipeline, new.client_id, new.webhook_url, job_resources(new.spec), recipient)


def observe_inputs(body: dict[str, Any]) -> object:
    """The files the job stages, where from, how they are checked and which key opens them."""
    try:
        spec = new_job(JobRequest.model_validate(body), REGISTRY, OPERATOR_CALLER).spec
    except (ValidationError, VattiError) as exc:
        return ("refused", str(exc))
    return PgsPipeline().inputs(PgsParams.model_validate(spec["params"]))


def observe_run(body: dict[str, Any], shared: Shared) -> object:
    """What the job computes: every output (timings aside) and warning, or how it failed."""
    try:
        spec = new_job(JobRequest.model_validate(body), REGISTRY, OPERATOR_CALLER).spec
    except (ValidationError, VattiError) as exc:
        return ("refused", str(exc))
    params = PgsParams.model_validate(spec["params"])  # as the runtime reads the stored spec
    work = shared.work / str(next(_runs))
    settings = JobSettings(
        input_root=shared.root,
        pgs_catalog=PgsCatalogAccess(shared.cache, shared.catalog_url, offline=False),
    )
    log = logging.LoggerAdapter(logging.getLogger("test.pgs"), {})
    ctx = RunContext("job-1", work / "work", work / "out", log, settings)
    try:
        outcome = run_pipeline(PgsPipeline(), params, ctx, inputs_dir=work / "inputs")
    except VattiError as exc:
        return ("failed", exc.code, exc.message)
    outputs = {}
    for name in sorted(outcome.outputs):
        data = (ctx.output_dir / name).read_bytes()
        if name != "timings.json":
            outputs[name] = gzip.decompress(data) if name.endswith(".gz") else data
    return ("ok", outputs, [w.to_dict() for w in outcome.warnings])


def test_every_field_is_listed() -> None:
    assert sorted(LEAVES) == sorted([*EFFECTS, *INFORMATIONAL])


@pytest.mark.parametrize("base", sorted(set(BASES) - {"encrypted"}))
def test_each_base_request_runs(base: str, shared: Shared) -> None:
    observed = observe_run(BASES[base], shared)
    assert isinstance(observed, tuple)
    assert observed[0] == "ok", observed
    assert observed[2] == []  # no score failed: a change that fails one shows


@pytest.mark.parametrize("path", sorted(EFFECTS))
def test_the_field_changes_what_the_job_does(path: str, shared: Shared) -> None:
    effect = EFFECTS[path]
    changed = copy.deepcopy(BASES[effect.base])
    effect.change(changed)
    if effect.level == "job":
        assert observe_job(changed) != observe_job(BASES[effect.base])
    elif effect.level == "inputs":
        assert observe_inputs(changed) != observe_inputs(BASES[effect.base])
        assert observe_inputs(changed)[0] != "refused"
    else:
        assert observe_run(changed, shared) != observe_run(BASES[effect.base], shared)


@pytest.mark.parametrize("path", sorted(INFORMATIONAL))
def test_an_informational_field_says_so_and_changes_nothing(path: str, shared: Shared) -> None:
    description = LEAVES[path].description or ""
    assert description.startswith("Informational:"), description
    changed = copy.deepcopy(BASES["hattivatti"])
    INFORMATIONAL[path](changed)
    assert changed != BASES["hattivatti"]
    assert observe_job(changed) == observe_job(BASES["hattivatti"])
    assert observe_run(changed, shared) == observe_run(BASES["hattivatti"], shared)


def test_an_ancestry_job_reports_its_analysis(shared: Shared) -> None:
    """The job's ``ancestry`` param, as ``--ancestry``: ``report.html`` gets the analysis's
    section, its counts those of ``cohort_popsimilarity.txt.gz``."""
    observed = observe_run(BASES["ancestry"], shared)
    assert isinstance(observed, tuple)
    assert observed[0] == "ok", observed
    outputs: dict[str, bytes] = observed[1]
    page = outputs["report.html"].decode()
    assert '<section id="genetic-ancestry">' in page
    rows = outputs["cohort_popsimilarity.txt.gz"].decode().splitlines()
    header = rows[0].split("\t")
    at = header.index("MostSimilarPop")
    cohort = [r.split("\t") for r in rows[1:] if r.startswith("cohort\t")]
    shown = dict(re.findall(r'<tr data-population="(\w+)">.*?data-col="samples">(\d+)<', page))
    expected = {p: str(sum(r[at] == p for r in cohort)) for p in {r[at] for r in cohort}}
    assert shown == expected
