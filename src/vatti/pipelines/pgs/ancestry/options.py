"""The ancestry analysis's settings from the command line's or a job's words, refused with a
message naming the bad one."""

from __future__ import annotations

from pathlib import Path

from vatti.pipelines.errors import PipelineError
from vatti.pipelines.pgs.ancestry.analysis import AncestryOptions
from vatti.pipelines.pgs.ancestry.normalise import Normalisation
from vatti.pipelines.pgs.ancestry.panel import ReferencePanel
from vatti.pipelines.pgs.ancestry.similarity import Method
from vatti.pipelines.pgs.targets.base import GenotypeFile


class AncestryOptionError(PipelineError):
    """An ancestry setting is not one of its values."""

    code = "invalid_params"
    exit_code = 2  # a usage error


def ancestry_options(
    method: str,
    label: str,
    n_popcomp: int,
    n_normalisation: int,
    normalisation: str,
    p_threshold: float | None,
) -> AncestryOptions:
    """
    >>> ancestry_options("mahalanobis", "SuperPop", 5, 4, "mean", None).method.value
    'Mahalanobis'
    >>> ancestry_options("knn", "SuperPop", 5, 4, "mean", None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vatti...AncestryOptionError: 'knn' is not an ancestry method: RandomForest or Mahalanobis
    """
    try:
        return AncestryOptions(
            method=Method.parse(method),
            n_popcomp=n_popcomp,
            p_threshold=p_threshold,
            normalisation=Normalisation.parse_all(normalisation),
            n_normalisation=n_normalisation,
            population_label=label,
        )
    except ValueError as exc:
        raise AncestryOptionError(str(exc)) from None


def reference_panel(file: GenotypeFile, related: Path | None) -> ReferencePanel:
    return ReferencePanel.at(file, related)
