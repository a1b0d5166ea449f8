"""Validation of relative output/input names: no traversal, no absolute paths.

>>> safe_relative_path("out/scores.tsv")
'out/scores.tsv'
>>> safe_relative_path("../x")
Traceback (most recent call last):
...
ValueError: must be a relative path without '..' components (got '../x')
"""

from __future__ import annotations

from pathlib import PurePosixPath

_MAX_LEN = 512


def safe_relative_path(value: str) -> str:
    """Return ``value`` normalised if it is a safe relative POSIX path, else raise ValueError."""
    if not value or len(value) > _MAX_LEN:
        raise ValueError(f"must be 1 to {_MAX_LEN} characters")
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"must not contain control characters or backslash (got {value!r})")
    path = PurePosixPath(value)
    if path.is_absolute() or any(part in ("..", "") for part in path.parts):
        raise ValueError(f"must be a relative path without '..' components (got {value!r})")
    parts = [p for p in path.parts if p != "."]
    if not parts:
        raise ValueError(f"must name a file (got {value!r})")
    return "/".join(parts)
