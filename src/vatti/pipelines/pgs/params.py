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

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from vatti.domain.inputs import C4GH_SUFFIX, collection_path
from vatti.domain.requests import integral

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


_FILE_FIELDS = ("geno", "pheno", "variants")
_CHROM_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string", "maxLength": 8},
            {"type": "integer", "minimum": -9_999_999, "maximum": 99_999_999},
            {"type": "null"},
        ],
        "default": None,
    }
)


def _chrom_text(value: Any) -> Any:
    """A chromosome given as a number (``22``) as its text; anything else as given."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _document_target_rules(schema: dict[str, Any]) -> None:
    """The rules across fields, in the JSON schema: file names fit the format, dosage for vcf."""
    branches = []
    for fmt, suffixes in _SUFFIXES.items():
        properties: dict[str, Any] = {"format": {"const": fmt.value}}
        for name, ends in zip(_FILE_FIELDS, suffixes, strict=True):
            properties[name] = {"pattern": "(?:" + "|".join(re.escape(e) for e in ends) + ")$"}
        if fmt is not TargetFormat.VCF:
            properties["vcf_import_dosage"] = {"const": False}
        branches.append({"properties": properties})
    schema["oneOf"] = branches
    schema["not"] = {"required": ["sampleset"], "properties": {"sampleset": {"const": "reference"}}}


class TargetGenome(BaseModel):
    """One genotype file set of a sampleset (a PGS Catalog Calculator samplesheet row)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_document_target_rules)

    sampleset: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9.-]+$")]
    chrom: Annotated[str | None, BeforeValidator(_chrom_text), _CHROM_SCHEMA] = Field(
        default=None, max_length=8
    )
    vcf_import_dosage: bool = False
    geno: Annotated[str, Field(min_length=1, max_length=4096)]
    pheno: Annotated[str, Field(min_length=1, max_length=4096)]
    variants: Annotated[str, Field(min_length=1, max_length=4096)]
    format: Annotated[TargetFormat, Field(strict=False)]  # its value, from JSON

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
            raise ValueError(
                "name a crypt4gh file by its decrypted name (x.pgen for x.pgen.c4gh) and list "
                "the .c4gh file in globus_details"
            )
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


#: a path segment: no '/', backslash or control character, not '.' or '..'
_SEGMENT = r"[^/\\\x00-\x1f\x7f]*[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*"


class TransferFile(BaseModel):
    """One file on the transfer collection (hattivatti's ``globus_details.files[]``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    filename: Annotated[str, Field(max_length=255, pattern=f"^{_SEGMENT}$")]
    size: int = Field(gt=0)
    sha256: Annotated[str | None, Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")]

    @field_validator("size", mode="before")
    @classmethod
    def _integral(cls, value: Any) -> Any:
        return integral(value)


class GlobusDetails(BaseModel):
    """Where a job's genotypes are on the transfer collection (hattivatti's
    ``globus_details``): ``dir_path_on_guest_collection/filename`` for each file. A file named
    ``x.pgen.c4gh`` is decrypted to ``x.pgen``, the name ``target_genomes`` uses."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dir_path_on_guest_collection: Annotated[
        str, Field(max_length=4096, pattern=f"^/?(?:{_SEGMENT}(?:/{_SEGMENT})*)?/?$")
    ]
    files: Annotated[list[TransferFile], Field(min_length=1, max_length=1000)]

    def path_of(self, item: TransferFile) -> str:
        return collection_path(self.dir_path_on_guest_collection, item.filename)


class SecretKeyDetails(BaseModel):
    """Which secret key opens the encrypted files (hattivatti's ``secret_key_details``): the
    key handler's id (a UUID) and version. Not a secret."""

    model_config = ConfigDict(extra="forbid", strict=True)

    secret_id: Annotated[
        str, Field(pattern=r"^[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
    ]
    secret_id_version: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    ]


def decrypted_name(filename: str) -> str:
    """The name a collection file is staged under.

    >>> decrypted_name("hapnest.pgen.c4gh"), decrypted_name("hapnest.psam")
    ('hapnest.pgen', 'hapnest.psam')
    """
    return filename.removesuffix(C4GH_SUFFIX) if filename != C4GH_SUFFIX else filename


_SOURCES = ("pgs_id", "pgp_id", "trait_efo", "scorefiles")


def _ids_schema(field: str, max_items: int) -> WithJsonSchema:
    """An id list as requests may give it: a list, a comma-separated string, or null."""
    one = _IDS[field].pattern
    body = one.removeprefix("^").removesuffix("$")
    listed = rf"^\s*(?:{body})?(?:\s*,\s*(?:{body})?)*\s*$"
    return WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "array",
                    "maxItems": max_items,
                    "items": {"type": "string", "pattern": one},
                },
                {"type": "string", "pattern": listed, "description": "comma-separated"},
                {"type": "null"},
            ],
            "default": [],
        }
    )


def _document_params_rules(schema: dict[str, Any]) -> None:
    """At least one source of scores, in the JSON schema."""
    given = {"anyOf": [{"type": "array", "minItems": 1}, {"type": "string", "pattern": "[^\\s,]"}]}
    schema["anyOf"] = [{"required": [f], "properties": {f: given}} for f in _SOURCES]


class PgsParams(BaseModel):
    """Params of the ``pgs`` pipeline."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_document_params_rules)

    id: Annotated[str | None, Field(default=None, max_length=128)]
    target_genomes: Annotated[list[TargetGenome], Field(min_length=1, max_length=1000)]
    pgs_id: Annotated[list[str], _ids_schema("pgs_id", 1000)] = Field(
        default_factory=list, max_length=1000
    )
    pgp_id: Annotated[list[str], _ids_schema("pgp_id", 100)] = Field(
        default_factory=list, max_length=100
    )
    trait_efo: Annotated[list[str], _ids_schema("trait_efo", 100)] = Field(
        default_factory=list, max_length=100
    )
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
    #: Files on the transfer collection (hattivatti's ``globus_details``); ``target_genomes``
    #: names them as they are staged (without ``.c4gh``).
    globus_details: GlobusDetails | None = None
    #: The key handler's secret key for the encrypted files (hattivatti's ``secret_key_details``).
    secret_key_details: SecretKeyDetails | None = None

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
