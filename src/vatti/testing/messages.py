"""hattivatti's job message for tests: ``pipeline_param`` with ``globus_details`` and
``secret_key_details`` beside it, as its backend sends them."""

from __future__ import annotations

from typing import Any

SECRET_ID = "81d5c400-21b4-4e88-8208-8d64c9920283"  # noqa: S105 (an id, not a secret)


def hattivatti_message(
    run_id: str = "INTP00000028",
    sizes: tuple[int, int, int] = (278705850, 8517, 214912210),
    **beside: Any,
) -> dict[str, Any]:
    """A message scoring PGS001229 on ``hapnest.{pgen,psam,pvar}``, encrypted on the collection
    with those sizes; ``beside`` adds (or replaces) top-level parts."""
    genome = {
        "sampleset": "test",
        "chrom": None,
        "vcf_import_dosage": False,
        "geno": "hapnest.pgen",
        "pheno": "hapnest.psam",
        "variants": "hapnest.pvar",
        "format": "pfile",
    }
    files = [
        {"filename": f"hapnest.{suffix}.c4gh", "size": size}
        for suffix, size in zip(("pgen", "psam", "pvar"), sizes, strict=True)
    ]
    return {
        "pipeline_param": {
            "id": run_id,
            "target_genomes": [genome],
            "nxf_params_file": {"pgs_id": "PGS001229", "format": "json", "target_build": "GRCh38"},
        },
        "globus_details": {
            "dir_path_on_guest_collection": "bwingfield@ebi.ac.uk/hapnestgcp/",
            "files": files,
        },
        "secret_key_details": {"secret_id": SECRET_ID, "secret_id_version": "1"},
        **beside,
    }


def cohort_message(
    run_id: str, directory: str, files: list[dict[str, Any]], scorefile: str, secret_id: str
) -> dict[str, Any]:
    """A message scoring ``scorefile`` (under the input root) on the synthetic ``cohort``
    pfile (chromosome 22, GRCh37) encrypted on the collection under ``directory``."""
    genome = {
        "sampleset": "cohort",
        "chrom": "22",
        "geno": "cohort.pgen",
        "pheno": "cohort.psam",
        "variants": "cohort.pvar",
        "format": "pfile",
    }
    return {
        "pipeline_param": {
            "id": run_id,
            "target_genomes": [genome],
            "scorefiles": [scorefile],
            "nxf_params_file": {"format": "json", "target_build": "GRCh37"},
        },
        "globus_details": {"dir_path_on_guest_collection": directory, "files": files},
        "secret_key_details": {"secret_id": secret_id, "secret_id_version": "1"},
    }
