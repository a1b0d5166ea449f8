"""The inputs a job declares: what the runtime stages into its private scratch before it runs.

A pipeline lists them from its params (:meth:`vatti.pipelines.base.Pipeline.inputs`); the runtime
stages each (:mod:`vatti.staging.sources`) and the pipeline gets local paths by ``key``. A
``location`` is a path (relative to the runtime's input root) or a URL; ``size`` and ``sha256``
are checked when given; ``encrypted`` marks a crypt4gh file, decrypted while it is staged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class DeclaredInput:
    key: str
    location: str
    size: int | None = None
    sha256: str | None = None
    encrypted: bool = False

    @property
    def scheme(self) -> str | None:
        """The URL scheme of the location, or None for a local path.

        >>> DeclaredInput("a", "genomes/c.pgen").scheme is None
        True
        >>> DeclaredInput("a", "S3://bucket/c.pgen").scheme
        's3'
        """
        if not _URL.match(self.location):
            return None
        return self.location.partition("://")[0].lower()
