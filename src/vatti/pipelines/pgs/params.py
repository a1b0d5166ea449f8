"""Params of the ``pgs`` pipeline, in the shape of hattivatti's job message.

A request may carry the fields flat (``pgs_id``, ``target_build`` ... next to ``target_genomes``) or
nested as hattivatti sends them (``nxf_params_file: {pgs_id, pgp_id, trait_efo, target_build}``);
both validate to the same model. Target genomes follow the PGS Catalog Calculator's samplesheet:
one entry per genotype file, several entries per sampleset when split by chromosome.
"""

from __future__ import annotations

import enum
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_IDS = {
    "pgs_id": re.compile(r"^PGS\d{6}$"),
    "pgp_id": re.compile(r"^PGP\d{6}$"),
    "trait_efo": re.compile(r"^[A-Za-z]+_\d+$"),
}


class TargetFormat(enum.StrEnum):
    PFILE = "pfile"
    BFILE = "bfile"
    VCF = "vcf"


_SUFFIXES: dict[TargetFormat, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # geno, pheno, variants
    TargetFormat.PFILE: ((".pgen",), (".psam",), (".pvar", ".pvar.zst")),
    TargetFormat.BFILE: ((".bed",), (".fam",), (".bim", ".bim.zst")),
    TargetFormat.VCF: (
        (".vcf", ".vcf.gz", ".bcf"),
        (".vcf", ".vcf.gz", ".bcf"),
        (".vcf", ".vcf.gz", ".bcf"),
    ),
}


class TargetGenome(BaseModel):
    """One genotype file set of a sampleset (a PGS Catalog Calculator samplesheet row)."""

    model_config = ConfigDict(extra="forbid")

    sampleset: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9.-]+$")]
    chrom: Annotated[str | None, Field(default=None, coerce_numbers_to_str=True, max_length=8)]
    vcf_import_dosage: bool = False
    geno: Annotated[str, Field(min_length=1, max_length=4096)]
    pheno: Annotated[str, Field(min_length=1, max_length=4096)]
    variants: Annotated[str, Field(min_length=1, max_length=4096)]
    format: TargetFormat

    @field_validator("sampleset")
    @classmethod
    def _not_reference(cls, value: str) -> str:
        if value == "reference":
            raise ValueError("sampleset name 'reference' is reserved")
        return value

    @field_validator("geno", "pheno", "variants")
    @classmethod
    def _not_encrypted(cls, value: str) -> str:
        if value.endswith(".c4gh"):
            raise ValueError("encrypted (.c4gh) files must be staged and decrypted first")
        return value

    @model_validator(mode="after")
    def _dosage_only_for_vcf(self) -> Self:
        if self.vcf_import_dosage and self.format is not TargetFormat.VCF:
            raise ValueError(
                f"vcf_import_dosage applies to format 'vcf' only, not {self.format.value!r} "
                "(PLINK files are scored with the dosages they store)"
            )
        return self

    @model_validator(mode="after")
    def _suffixes_fit_format(self) -> Self:
        wanted = _SUFFIXES[self.format]
        for name, value, suffixes in zip(
            ("geno", "pheno", "variants"),
            (self.geno, self.pheno, self.variants),
            wanted,
            strict=True,
        ):
            base = PurePosixPath(value).name
            if not base.endswith(suffixes):
                raise ValueError(
                    f"{name} {value!r} does not fit format {self.format.value!r} "
                    f"(expected a name ending in {' or '.join(suffixes)})"
                )
        return self


class PgsParams(BaseModel):
    """Params of the ``pgs`` pipeline."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str | None, Field(default=None, max_length=128)]
    target_genomes: Annotated[list[TargetGenome], Field(min_length=1, max_length=1000)]
    pgs_id: list[str] = Field(default_factory=list, max_length=1000)
    pgp_id: list[str] = Field(default_factory=list, max_length=100)
    trait_efo: list[str] = Field(default_factory=list, max_length=100)
    scorefiles: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        default_factory=list, max_length=1000
    )
    target_build: Annotated[str, Field(pattern=r"^(GRCh37|GRCh38)$")]
    min_overlap: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    keep_ambiguous: bool = False
    keep_multiallelic: bool = False
    use_dosage: bool = False
    #: A plink2 ``.afreq`` of a reference panel under the input root: missing calls are imputed
    #: from its frequencies whatever the sampleset's size (pgsc_calc's reference frequencies).
    reference_freqs: Annotated[str | None, Field(default=None, min_length=1, max_length=4096)]

    @model_validator(mode="before")
    @classmethod
    def _flatten_hattivatti(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("nxf_params_file"), dict):
            data = dict(data)
            nested = data.pop("nxf_params_file")
            for key, value in nested.items():
                if key == "format":  # hattivatti's samplesheet format; always json here
                    continue
                data.setdefault(key, value)
        return data

    @field_validator("pgs_id", "pgp_id", "trait_efo", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("pgs_id", "pgp_id", "trait_efo")
    @classmethod
    def _check_ids(cls, value: list[str], info: Any) -> list[str]:
        pattern = _IDS[info.field_name]
        bad = [v for v in value if not pattern.match(v)]
        if bad:
            raise ValueError(f"not a valid identifier: {', '.join(bad)}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _something_to_score(self) -> Self:
        if not (self.pgs_id or self.pgp_id or self.trait_efo or self.scorefiles):
            raise ValueError("give at least one of pgs_id, pgp_id, trait_efo or scorefiles")
        return self
