"""The ``ancestry`` param of a ``pgs`` job: the reference panel and pgsc_calc's ancestry
settings (``--run_ancestry``, ``--ancestry_method``, ``--ref_label``, ``--n_popcomp``,
``--n_normalization``, ``--normalization_method``, ``--pval_threshold``)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vatti.pipelines.pgs.ancestry.analysis import AncestryOptions
from vatti.pipelines.pgs.ancestry.normalise import Normalisation
from vatti.pipelines.pgs.ancestry.similarity import Method
from vatti.pipelines.pgs.vocabulary import TargetFormat, suffix_pattern

_Path = Annotated[str, Field(min_length=1, max_length=4096)]
_PCS = Annotated[int, Field(ge=1, le=20)]
NormalisationName = Literal["empirical", "mean", "mean+var"]


def _all_methods() -> list[NormalisationName]:
    return ["empirical", "mean", "mean+var"]


#: the panel's formats, and the fields that must end in one of their suffixes
_PANEL_FORMATS = ("pfile", "bfile")


def _document_suffix_rules(schema: dict[str, Any]) -> None:
    """The rule across fields, in the JSON schema: the file names fit the format."""
    branches = []
    for fmt in _PANEL_FORMATS:
        ends = TargetFormat(fmt).suffixes
        properties: dict[str, Any] = {"format": {"const": fmt}}
        for name, suffixes in (
            ("geno", ends.geno),
            ("pheno", ends.samples),
            ("variants", ends.variants),
        ):
            properties[name] = {"pattern": suffix_pattern(suffixes)}
        branches.append({"properties": properties})
    schema["oneOf"] = branches


class AncestryParams(BaseModel):
    """The reference panel (a PLINK 2 or PLINK 1 fileset under the input root whose samples
    file has the population label column) and how the target is compared with it."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_document_suffix_rules)

    geno: _Path = Field(description="The panel's genotypes: .pgen or .bed.")
    pheno: _Path = Field(
        description="The panel's samples, with the ref_label column: .psam (or .fam with "
        "pfile's columns)."
    )
    variants: _Path = Field(
        description="The panel's variants (unique IDs): .pvar[.zst] or .bim[.zst]."
    )
    format: Literal["pfile", "bfile"] = Field(description="pfile (PLINK 2) or bfile (PLINK 1).")
    related: _Path | None = Field(
        default=None,
        description="Related panel samples to leave out of the PCA and the models (plink2's "
        ".king.cutoff.out.id).",
    )
    method: Literal["RandomForest", "Mahalanobis"] = Field(
        default="RandomForest", description="How the most similar population is found."
    )
    ref_label: str = Field(
        default="SuperPop",
        min_length=1,
        max_length=64,
        description="The population label column of the panel's samples file.",
    )
    n_popcomp: _PCS = Field(default=5, description="PCs that compare populations.")
    n_normalization: _PCS = Field(default=4, description="PCs that normalise the scores.")
    normalization_method: list[NormalisationName] = Field(
        default_factory=_all_methods,
        min_length=1,
        max_length=3,
        description="empirical: percentile and Z within the most similar population; mean: "
        "Z_norm1; mean+var: Z_norm1 and Z_norm2.",
    )
    pval_threshold: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="p under which a population similarity has low confidence (default 0.5 "
        "RandomForest, 1e-10 Mahalanobis).",
    )

    @model_validator(mode="after")
    def _suffixes_fit_format(self) -> Self:
        ends = TargetFormat(self.format).suffixes
        for name, value, suffixes in (
            ("geno", self.geno, ends.geno),
            ("pheno", self.pheno, ends.samples),
            ("variants", self.variants, ends.variants),
        ):
            if not PurePosixPath(value).name.endswith(suffixes):
                raise ValueError(
                    f"ancestry.{name} {value!r} does not fit format {self.format!r} "
                    f"(expected a name ending in {' or '.join(suffixes)})"
                )
        return self

    def files(self) -> list[str]:
        return [self.geno, self.pheno, self.variants, *([self.related] if self.related else [])]

    def options(self) -> AncestryOptions:
        return AncestryOptions(
            method=Method(self.method),
            n_popcomp=self.n_popcomp,
            p_threshold=self.pval_threshold,
            normalisation=Normalisation.parse_all(self.normalization_method),
            n_normalisation=self.n_normalization,
            population_label=self.ref_label,
        )
