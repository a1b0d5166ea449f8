"""Params of the ``pgs`` pipeline, in the shape of hattivatti's job message.

A request may carry the fields flat (``pgs_id``, ``target_build`` ... next to ``target_genomes``) or
nested as hattivatti sends them (``nxf_params_file: {pgs_id, pgp_id, trait_efo, target_build}``),
not both ways at once; both validate to the same model. Target genomes
follow the PGS Catalog Calculator's samplesheet: one entry per genotype file, several entries
per sampleset when split by chromosome.

Every field changes what the job computes or is refused when it would not, except the ones
whose description says *informational* (hattivatti's ``id`` and ``nxf_params_file.format``):
``tests/integration/pgs_calc/test_every_field_counts.py`` walks the model to keep it so.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
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
from vatti.pipelines.pgs.ancestry.params import AncestryParams
from vatti.pipelines.pgs.catalog import PGP_ID, PGS_ID, TRAIT_ID
from vatti.pipelines.pgs.vocabulary import (
    TARGET_BUILDS,
    TargetFormat,
    normalise_chrom_name,
    suffix_pattern,
)

_IDS = {"pgs_id": PGS_ID, "pgp_id": PGP_ID, "trait_efo": TRAIT_ID}
#: Where each list of ids leads to scoring files, and at most how many ids it takes.
_ID_LIMITS = {"pgs_id": 1000, "pgp_id": 100, "trait_efo": 100}


_FILE_FIELDS = ("geno", "pheno", "variants")


def _field_suffixes(fmt: TargetFormat) -> tuple[tuple[str, ...], ...]:
    """The name endings of a row's ``geno``, ``pheno`` and ``variants`` in format ``fmt``."""
    ends = fmt.suffixes
    return ends.geno, ends.samples, ends.variants


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
    for fmt in TargetFormat:
        properties: dict[str, Any] = {"format": {"const": fmt.value}}
        for name, ends in zip(_FILE_FIELDS, _field_suffixes(fmt), strict=True):
            properties[name] = {"pattern": suffix_pattern(ends)}
        if fmt is not TargetFormat.VCF:
            properties["vcf_import_dosage"] = {"const": False}
        branches.append({"properties": properties})
    schema["oneOf"] = branches
    schema["not"] = {
        "required": ["sampleset"],
        "properties": {"sampleset": {"const": RESERVED_SAMPLESET}},
    }


def _not_reference(value: str) -> str:
    if value == RESERVED_SAMPLESET:
        raise ValueError(f"sampleset name {RESERVED_SAMPLESET!r} is reserved")
    return value


#: The name pgsc_calc gives its reference panel's sampleset: no target may take it.
RESERVED_SAMPLESET = "reference"
#: A sampleset's name, in every samplesheet (a job's ``target_genomes``, ``vatti pgs score``'s
#: ``--input`` and ``--sampleset``): as pgsc_calc, no ``_`` (its separator) and not reserved.
SamplesetName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9.-]+$",
        description="Name of the sampleset (the sampleset column of the scores); rows with "
        "the same name are one cohort split over several files, same samples in each.",
    ),
    AfterValidator(_not_reference),
]


class TargetGenome(BaseModel):
    """One genotype file set of a sampleset (a PGS Catalog Calculator samplesheet row)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_document_target_rules)

    sampleset: SamplesetName
    chrom: Annotated[str | None, BeforeValidator(_chrom_text), _CHROM_SCHEMA] = Field(
        default=None,
        max_length=8,
        description="The chromosome this file holds (chr prefix optional): only its variants "
        "are read, as pgsc_calc does. null: every chromosome of the file.",
    )
    vcf_import_dosage: bool = Field(
        default=False,
        description="Read this VCF's DS (dosages) instead of its GT (pgsc_calc's samplesheet "
        "column); refused for PLINK files.",
    )
    geno: Annotated[
        str,
        Field(
            min_length=1,
            max_length=4096,
            description="The genotypes: .pgen, .bed, .bgen, or the VCF/BCF. For format vcf, geno, "
            "pheno and variants must name the same file (checked when the job runs); for bgen, "
            "geno and variants.",
        ),
    ]
    pheno: Annotated[
        str,
        Field(
            min_length=1,
            max_length=4096,
            description="The samples: .psam, .fam, the VCF, the .bgen or its Oxford .sample.",
        ),
    ]
    variants: Annotated[
        str,
        Field(
            min_length=1,
            max_length=4096,
            description="The variants: .pvar[.zst], .bim[.zst], the VCF, the .bgen.",
        ),
    ]
    format: Annotated[
        TargetFormat,
        Field(strict=False, description="pfile (PLINK 2), bfile (PLINK 1) or vcf (VCF/BCF)."),
    ]  # its value, from JSON

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
    def _bgen_variants_in_it(self) -> Self:
        if self.format is TargetFormat.BGEN and self.variants != self.geno:
            raise ValueError(
                "a bgen target's variants are in its .bgen: variants must name geno "
                f"({self.geno!r}), and pheno the .bgen or its .sample"
            )
        return self

    @model_validator(mode="after")
    def _suffixes_fit_format(self) -> Self:
        for name, value, suffixes in zip(
            _FILE_FIELDS,
            (self.geno, self.pheno, self.variants),
            _field_suffixes(self.format),
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


def check_samplesets(rows: list[TargetGenome]) -> list[TargetGenome]:
    """pgsc_calc's samplesheet rule: in a sampleset, each chromosome is one row's (and at most
    one row has no ``chrom``, a file of every chromosome); ``chr22`` and ``22`` are the same."""
    seen: dict[tuple[str, str | None], int] = {}
    for number, row in enumerate(rows):
        chrom = None if row.chrom is None else normalise_chrom_name(row.chrom)
        first = seen.setdefault((row.sampleset, chrom), number)
        if first != number:
            what = "no chrom (every chromosome)" if chrom is None else f"chrom {chrom}"
            raise ValueError(
                f"rows {first} and {number} of sampleset {row.sampleset!r} both have {what}; "
                "a sampleset has one file per chromosome, as in pgsc_calc's samplesheet"
            )
    return rows


#: The genotype files of a request: pgsc_calc's samplesheet rows, checked together.
TargetGenomes = Annotated[
    list[TargetGenome],
    Field(
        min_length=1,
        max_length=1000,
        description="The genotype files (pgsc_calc's samplesheet rows); in a sampleset, one "
        "per chromosome.",
    ),
    AfterValidator(check_samplesets),
]


_SOURCES = ("pgs_id", "pgp_id", "trait_efo", "scorefiles")


def _ids_schema(field: str) -> WithJsonSchema:
    """An id list as requests may give it: a list, a comma-separated string, or null."""
    one = _IDS[field].pattern
    body = one.removeprefix("^").removesuffix("$")
    listed = rf"^\s*(?:{body})?(?:\s*,\s*(?:{body})?)*\s*$"
    return WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "array",
                    "maxItems": _ID_LIMITS[field],
                    "items": {"type": "string", "pattern": one},
                },
                {"type": "string", "pattern": listed, "description": "comma-separated"},
                {"type": "null"},
            ],
            "default": [],
        }
    )


def _split_ids(value: Any) -> Any:
    """``None`` as no ids, a comma-separated string as its ids; a list as given."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _checked_ids(field: str) -> AfterValidator:
    pattern = _IDS[field]

    def check(value: list[str]) -> list[str]:
        bad = [v for v in value if not pattern.match(v)]
        if bad:
            raise ValueError(f"not a valid identifier: {', '.join(bad)}")
        return list(dict.fromkeys(value))

    return AfterValidator(check)


PgsIds = Annotated[
    list[str],
    BeforeValidator(_split_ids),
    _checked_ids("pgs_id"),
    _ids_schema("pgs_id"),
    Field(
        max_length=_ID_LIMITS["pgs_id"],
        description="PGS Catalog score ids (PGS000001...), a list or comma-separated.",
    ),
]
PgpIds = Annotated[
    list[str],
    BeforeValidator(_split_ids),
    _checked_ids("pgp_id"),
    _ids_schema("pgp_id"),
    Field(
        max_length=_ID_LIMITS["pgp_id"],
        description="PGS Catalog publication ids (PGP000001...): every score they published.",
    ),
]
TraitIds = Annotated[
    list[str],
    BeforeValidator(_split_ids),
    _checked_ids("trait_efo"),
    _ids_schema("trait_efo"),
    Field(
        max_length=_ID_LIMITS["trait_efo"],
        description="Trait ontology ids (EFO_0004611...): the scores of the trait and its "
        "child traits.",
    ),
]
TargetBuild = Annotated[
    str,
    Field(
        pattern=f"^({'|'.join(TARGET_BUILDS)})$",
        description="Genome build of the target genomes: scoring files are read at it.",
    ),
]
MinOverlap = Annotated[
    float,
    Field(
        ge=0.0,
        le=1.0,
        description="The smallest share of a score's variants that must match for it to be "
        "computed; a score below it (or with none matched) is marked failed and dropped.",
    ),
]


def _document_nested(schema: dict[str, Any]) -> None:
    """A nested target_build is a build (moved to the top level, where null is refused)."""
    build = schema["properties"]["target_build"]
    branch = next(b for b in build.pop("anyOf") if b.get("type") != "null")
    build.pop("default", None)
    build.update(branch)


class NxfParamsFile(BaseModel):
    """hattivatti's ``nxf_params_file``: pgsc_calc's parameters, nested. Its fields are
    given all here or all flat in the params. (They are moved to the top level before the
    params are validated: this model validates ``format`` and documents the others.)"""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_document_nested)

    pgs_id: PgsIds = Field(default_factory=list)
    pgp_id: PgpIds = Field(default_factory=list)
    trait_efo: TraitIds = Field(default_factory=list)
    target_build: TargetBuild | None = None
    min_overlap: MinOverlap = 0.75
    format: Literal["json"] = Field(
        default="json",
        description="Informational: the format of hattivatti's samplesheet, always json "
        "(target_genomes); it changes nothing.",
    )


#: The fields of ``nxf_params_file`` that are the params' own (moved to the top level).
_NESTED = tuple(name for name in NxfParamsFile.model_fields if name != "format")


def _document_params_rules(schema: dict[str, Any]) -> None:
    """The rules across fields, in the JSON schema: a build and a source of scores, all flat or,
    with ``nxf_params_file``, nested; use_dosage only with a vcf target."""
    given = {"anyOf": [{"type": "array", "minItems": 1}, {"type": "string", "pattern": "[^\\s,]"}]}
    nested_sources: list[dict[str, Any]] = [
        {"required": ["scorefiles"], "properties": {"scorefiles": given}}
    ]
    nested_sources += [
        {"properties": {"nxf_params_file": {"required": [f], "properties": {f: given}}}}
        for f in _SOURCES
        if f in _NESTED
    ]
    flat = {
        "properties": {"nxf_params_file": {"type": "null"}},
        "required": ["target_build"],
        "anyOf": [{"required": [f], "properties": {f: given}} for f in _SOURCES],
    }
    nested = {
        "required": ["nxf_params_file"],
        "properties": {
            **{name: False for name in _NESTED},
            "nxf_params_file": {"type": "object", "required": ["target_build"]},
        },
        "anyOf": nested_sources,
    }
    schema["required"] = [name for name in schema.get("required", []) if name != "target_build"]
    schema["anyOf"] = [flat, nested]
    schema["allOf"] = [
        {  # liftover with a chain file; a chain file only with liftover
            "anyOf": [
                {"properties": {"liftover": {"const": True}}, "required": ["chain_file"]},
                {
                    "properties": {
                        "liftover": {"const": False},
                        "chain_file": {"type": "null"},
                    }
                },
            ]
        },
        {
            "anyOf": [
                {"properties": {"use_dosage": {"const": False}}},
                {
                    "properties": {
                        "target_genomes": {"contains": {"properties": {"format": {"const": "vcf"}}}}
                    }
                },
            ]
        },
    ]


class PgsParams(BaseModel):
    """Params of the ``pgs`` pipeline."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_document_params_rules)

    id: Annotated[
        str | None,
        Field(
            default=None,
            max_length=128,
            description="Informational: hattivatti's name of the run (its INTP id); it is kept "
            "with the job and changes nothing it computes.",
        ),
    ]
    target_genomes: TargetGenomes
    pgs_id: PgsIds = Field(default_factory=list)
    pgp_id: PgpIds = Field(default_factory=list)
    trait_efo: TraitIds = Field(default_factory=list)
    scorefiles: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        default_factory=list,
        max_length=1000,
        description="Scoring files (PGS Catalog format, plain or gzip) under the input root.",
    )
    target_build: TargetBuild
    min_overlap: MinOverlap = 0.75
    keep_ambiguous: bool = Field(
        default=False, description="Score strand-ambiguous (A/T, C/G) variants too."
    )
    keep_multiallelic: bool = Field(
        default=False, description="Score variants at multiallelic target sites too."
    )
    use_dosage: bool = Field(
        default=False,
        description="Read DS instead of GT in every VCF of the job (refused without a vcf "
        "target); vcf_import_dosage does it for one file.",
    )
    reference_freqs: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=4096,
            description="A plink2 .afreq of a reference panel under the input root: missing "
            "calls are imputed from its frequencies whatever the sampleset's size.",
        ),
    ]
    liftover: bool = Field(
        default=False,
        description="Lift scoring files whose #genome_build is the other one (GRCh37/GRCh38, "
        "not harmonized) to target_build with chain_file (pgsc_calc's liftover); needs "
        "chain_file.",
    )
    chain_file: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=4096,
            description="A UCSC chain file under the input root, from the scoring files' build "
            "to target_build (e.g. hg19ToHg38.over.chain.gz); only with liftover.",
        ),
    ]
    ancestry: AncestryParams | None = Field(
        default=None,
        description="Genetic-ancestry similarity to a reference panel and the scores normalised "
        "by it (pgsc_calc's --run_ancestry); one target sampleset.",
    )
    nxf_params_file: NxfParamsFile | None = Field(
        default=None,
        exclude=True,  # its fields are moved to the top level; format is informational
        description="hattivatti's nested parameters: pgs_id, pgp_id, trait_efo, target_build "
        "(required here), min_overlap and format. With it, those fields are not given flat.",
    )
    globus_details: GlobusDetails | None = Field(
        default=None,
        description="Files on the transfer collection (hattivatti's globus_details): fetched, "
        "checked against their sizes, decrypted when they end in .c4gh; target_genomes names "
        "them as they are staged (without .c4gh).",
    )
    secret_key_details: SecretKeyDetails | None = Field(
        default=None,
        description="The key handler's secret key that opens the encrypted files (hattivatti's "
        "secret_key_details).",
    )

    @model_validator(mode="before")
    @classmethod
    def _flatten_hattivatti(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("nxf_params_file"), dict):
            return data
        data = dict(data)
        nested = dict(data["nxf_params_file"])
        flat = [name for name in _NESTED if name in data]
        if flat:
            raise ValueError(
                f"with nxf_params_file, give {', '.join(flat)} there, not in params "
                "(its fields are given all flat or all nested)"
            )
        if "target_build" not in nested:
            raise ValueError("nxf_params_file needs target_build")
        for name in _NESTED:
            if name in nested:
                data[name] = nested.pop(name)
        data["nxf_params_file"] = nested  # what is left: format, or fields refused there
        return data

    @model_validator(mode="after")
    def _something_to_score(self) -> Self:
        if not (self.pgs_id or self.pgp_id or self.trait_efo or self.scorefiles):
            raise ValueError("give at least one of pgs_id, pgp_id, trait_efo or scorefiles")
        return self

    @model_validator(mode="after")
    def _liftover_with_a_chain(self) -> Self:
        if self.liftover and self.chain_file is None:
            raise ValueError("liftover needs chain_file (a UCSC chain file)")
        if self.chain_file is not None and not self.liftover:
            raise ValueError("chain_file is only read with liftover: true")
        return self

    @model_validator(mode="after")
    def _ancestry_of_one_sampleset(self) -> Self:
        if self.ancestry is not None and len({t.sampleset for t in self.target_genomes}) > 1:
            raise ValueError("ancestry compares one target sampleset with the reference panel")
        return self

    @model_validator(mode="after")
    def _dosage_with_a_vcf(self) -> Self:
        if self.use_dosage and not any(t.format is TargetFormat.VCF for t in self.target_genomes):
            raise ValueError(
                "use_dosage reads the DS of VCF files, and no target_genomes entry is vcf "
                "(PLINK files are scored with the dosages they store)"
            )
        return self
