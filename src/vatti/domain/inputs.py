"""The inputs a job declares: what the runtime stages into its private scratch before it runs.

A pipeline lists them from its params (:meth:`vatti.pipelines.base.Pipeline.inputs`); the runtime
stages each (:mod:`vatti.staging.sources`) and the pipeline gets local paths by ``key``. A
``location`` is a path relative to the runtime's input root, a path on the transfer collection
(``from_collection``: resolved against ``VATTI_TRANSFER_BASE_URL``, as hattivatti's
``dir_path_on_guest_collection`` + ``filename``) or an ``https://`` URL under that collection.
``size`` and ``sha256`` (of the bytes at the source) are checked when given; a crypt4gh file
(``encrypted``, or a name ending ``.c4gh``) is decrypted while it is staged, with the secret key
``key_ref`` names (or the key file), and keeps its name without ``.c4gh``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
C4GH_SUFFIX = ".c4gh"


@dataclass(frozen=True)
class KeyRef:
    """Which secret key opens an input: hattivatti's ``secret_key_details`` (not a secret)."""

    secret_id: str
    version: str


@dataclass(frozen=True)
class DeclaredInput:
    key: str
    location: str
    size: int | None = None
    sha256: str | None = None
    encrypted: bool = False
    from_collection: bool = False
    key_ref: KeyRef | None = None

    @property
    def scheme(self) -> str | None:
        """The URL scheme of the location, or None for a path.

        >>> DeclaredInput("a", "genomes/c.pgen").scheme is None
        True
        >>> DeclaredInput("a", "S3://bucket/c.pgen").scheme
        's3'
        """
        if not _URL.match(self.location):
            return None
        return self.location.partition("://")[0].lower()

    @property
    def is_encrypted(self) -> bool:
        """Declared encrypted, or named ``*.c4gh``.

        >>> DeclaredInput("a", "x/c.pgen.c4gh").is_encrypted
        True
        >>> DeclaredInput("a", "c.pgen").is_encrypted
        False
        """
        return self.encrypted or self.source_name.endswith(C4GH_SUFFIX)

    @property
    def source_name(self) -> str:
        """The file name at the source (a URL's last path segment, unquoted).

        >>> DeclaredInput("a", "https://h/c/x%20y.pgen.c4gh?v=1").source_name
        'x y.pgen.c4gh'
        """
        if self.scheme:
            return unquote(urlsplit(self.location).path.rpartition("/")[2])
        return self.location.rpartition("/")[2]

    @property
    def staged_name(self) -> str:
        """The file's name in the scratch: a crypt4gh file's without ``.c4gh``.

        >>> DeclaredInput("a", "u@ebi.ac.uk/run/x.pgen.c4gh", from_collection=True).staged_name
        'x.pgen'
        >>> DeclaredInput("a", "genomes/x.pvar").staged_name
        'x.pvar'
        """
        name = self.source_name
        if self.is_encrypted and name.endswith(C4GH_SUFFIX) and len(name) > len(C4GH_SUFFIX):
            return name.removesuffix(C4GH_SUFFIX)
        return name


def collection_path(directory: str, filename: str) -> str:
    """hattivatti's ``dir_path_on_guest_collection`` and ``filename`` as one relative path.

    Refuses what could leave the collection's directory tree (``..``, ``.``, backslashes,
    control characters) with ValueError; a leading or trailing ``/`` of the directory is
    dropped.

    >>> collection_path("bwingfield@ebi.ac.uk/hapnestgcp/", "hapnest.pgen.c4gh")
    'bwingfield@ebi.ac.uk/hapnestgcp/hapnest.pgen.c4gh'
    >>> collection_path("", "x.pgen.c4gh")
    'x.pgen.c4gh'
    >>> collection_path("a/../..", "x")
    Traceback (most recent call last):
    ...
    ValueError: path 'a/../../x' on the collection has an empty, '.' or '..' part
    """
    if "/" in filename:
        raise ValueError(f"file name {filename!r} contains '/'")
    parts = [p for p in directory.strip("/").split("/") if directory.strip("/")] + [filename]
    path = "/".join(parts)
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise ValueError(f"path {path!r} on the collection has a backslash or control character")
    if any(part in {"", ".", ".."} for part in parts):
        raise ValueError(f"path {path!r} on the collection has an empty, '.' or '..' part")
    return path
