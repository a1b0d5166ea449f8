"""What the ``pgs`` params refuse because it would change nothing, and hattivatti's nesting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from vatti.pipelines.errors import StepFailed
from vatti.pipelines.pgs.params import PgsParams
from vatti.pipelines.pgs.pipeline import check_one_vcf

pytestmark = pytest.mark.unit

PFILE = {
    "sampleset": "a",
    "geno": "x.pgen",
    "pheno": "x.psam",
    "variants": "x.pvar",
    "format": "pfile",
}
VCF = {"sampleset": "b", "geno": "x.vcf", "pheno": "x.vcf", "variants": "x.vcf", "format": "vcf"}


def params(**fields: Any) -> PgsParams:
    return PgsParams.model_validate({"target_genomes": [PFILE], **fields})


def test_hattivatti_nesting_is_the_flat_request() -> None:
    nested = params(
        id="INTP1",
        nxf_params_file={"pgs_id": "PGS000001", "format": "json", "target_build": "GRCh37"},
    )
    flat = params(id="INTP1", pgs_id=["PGS000001"], target_build="GRCh37")
    assert nested == flat.model_copy(update={"nxf_params_file": nested.nxf_params_file})
    # what the job spec stores: the flat fields only (format is informational)
    assert nested.model_dump() == flat.model_dump()
    assert "nxf_params_file" not in nested.model_dump()


def test_nested_fields_are_given_there_only() -> None:
    with pytest.raises(ValidationError, match="with nxf_params_file, give min_overlap there"):
        params(min_overlap=0.5, nxf_params_file={"pgs_id": "PGS000001", "target_build": "GRCh37"})
    with pytest.raises(ValidationError, match="nxf_params_file needs target_build"):
        params(scorefiles=["s.txt"], nxf_params_file={"pgs_id": "PGS000001"})
    with pytest.raises(ValidationError, match=r"nxf_params_file\.outdir"):
        params(nxf_params_file={"pgs_id": "PGS000001", "target_build": "GRCh37", "outdir": "o"})
    with pytest.raises(ValidationError, match=r"nxf_params_file\.format"):
        params(nxf_params_file={"pgs_id": "PGS000001", "target_build": "GRCh37", "format": "csv"})


def test_a_sampleset_has_each_chromosome_once() -> None:
    """pgsc_calc's samplesheet rule: one file per chromosome (chr prefix and PLINK codes
    aside), at most one file of every chromosome; other samplesets are apart."""
    rows = [PFILE | {"chrom": "22"}, PFILE | {"chrom": "chrX"}, PFILE, VCF | {"chrom": "22"}]
    assert (
        len(params(pgs_id="PGS000001", target_build="GRCh37", target_genomes=rows).target_genomes)
        == 4
    )
    for twice in (
        [PFILE, PFILE],
        [PFILE | {"chrom": 22}, PFILE | {"chrom": "chr22"}],
        [PFILE | {"chrom": "23"}, PFILE | {"chrom": "X"}],
    ):
        with pytest.raises(ValidationError, match="rows 0 and 1 of sampleset 'a' both have"):
            params(pgs_id="PGS000001", target_build="GRCh37", target_genomes=twice)


def test_sampleset_names_follow_pgsc_calc() -> None:
    for name in ("reference", "a_b", "a b", ""):
        with pytest.raises(ValidationError, match="sampleset"):
            params(
                pgs_id="PGS000001",
                target_build="GRCh37",
                target_genomes=[PFILE | {"sampleset": name}],
            )


def test_use_dosage_needs_a_vcf_target() -> None:
    with pytest.raises(ValidationError, match="no target_genomes entry is vcf"):
        params(pgs_id="PGS000001", target_build="GRCh37", use_dosage=True)
    both = PgsParams.model_validate(
        {
            "target_genomes": [PFILE, VCF],
            "pgs_id": "PGS000001",
            "target_build": "GRCh37",
            "use_dosage": True,
        }
    )
    assert both.use_dosage


def test_trait_ids_follow_the_catalog() -> None:
    assert params(trait_efo="EFO_0004611, MONDO_0005148", target_build="GRCh37").trait_efo == [
        "EFO_0004611",
        "MONDO_0005148",
    ]
    with pytest.raises(ValidationError, match="not a valid identifier: FOO_1"):
        params(trait_efo=["FOO_1"], target_build="GRCh37")


def test_a_vcf_target_is_one_file(tmp_path: Path) -> None:
    (tmp_path / "x.vcf").write_text("")
    (tmp_path / "y.vcf").write_text("")
    (tmp_path / "link.vcf").symlink_to(tmp_path / "x.vcf")
    same = PgsParams.model_validate(
        {
            "target_genomes": [VCF | {"pheno": "./x.vcf"}],
            "pgs_id": "PGS000001",
            "target_build": "GRCh37",
        }
    ).target_genomes[0]
    staged = {name: tmp_path / Path(name).name for name in ("x.vcf", "./x.vcf", "y.vcf")}
    check_one_vcf(same, staged | {"./x.vcf": tmp_path / "link.vcf"})
    other = same.model_copy(update={"variants": "y.vcf"})
    with pytest.raises(StepFailed, match=r"variants 'y\.vcf' is not geno 'x\.vcf'") as caught:
        check_one_vcf(other, staged)
    assert caught.value.step == "inputs"
    assert caught.value.code == "invalid_params"
