"""The ``ancestry`` extra, imported when first needed with a message that says how to get it."""

from __future__ import annotations

import importlib
from types import ModuleType

from vatti.pipelines.errors import PipelineError


class AncestryExtraMissing(PipelineError):
    """scikit-learn or scipy is not installed."""

    code = "pgs_ancestry_extra_missing"
    exit_code = 78  # EX_CONFIG


def need(module: str) -> ModuleType:
    """Import ``module`` (of scikit-learn or scipy), or say which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise AncestryExtraMissing(
            f"genetic-ancestry analysis needs the 'ancestry' extra: pip install 'vatti[ancestry]' "
            f"({exc})"
        ) from None
