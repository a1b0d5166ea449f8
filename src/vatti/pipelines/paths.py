"""Validation of relative output/input names: no traversal, no absolute paths.

>>> safe_relative_path("./out/scores.tsv")
'out/scores.tsv'
>>> safe_relative_path("../x")
Traceback (most recent call last):
...
ValueError: must be a relative path without '..' or empty components (got '../x')
>>> safe_relative_path("/etc/passwd")
Traceback (most recent call last):
...
ValueError: must be relative to the job's work area, not an absolute path (got '/etc/passwd')
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

MAX_LEN = 512

_CHAR = r"[^/\\\u0000-\u001f\u007f]"  # what a component may hold (no slash, backslash, control)
_NOT_DOT = r"[^./\\\u0000-\u001f\u007f]"
_NAME = rf"(?:\.{{0,2}}{_NOT_DOT}{_CHAR}*|\.\.\.{_CHAR}*)"  # any component but "." and ".."
#: The normal form of what :func:`safe_relative_path` accepts (at most :data:`MAX_LEN` characters):
#: components separated by single slashes, none of them ``.`` or ``..``. (``.`` components are
#: accepted too, and dropped: ``./a.txt`` is ``a.txt``.)
RELATIVE_PATH_PATTERN = rf"^{_NAME}(?:/{_NAME})*$"


def safe_relative_path(value: str) -> str:
    """Return ``value`` normalised if it is a safe relative POSIX path, else raise ValueError."""
    if not value or len(value) > MAX_LEN:
        raise ValueError(f"must be 1 to {MAX_LEN} characters")
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"must not contain control characters or backslash (got {value!r})")
    if value.startswith("/"):
        raise ValueError(
            f"must be relative to the job's work area, not an absolute path (got {value!r})"
        )
    parts = value.split("/")
    if any(part in ("..", "") for part in parts):
        raise ValueError(
            f"must be a relative path without '..' or empty components (got {value!r})"
        )
    names = [p for p in parts if p != "."]
    if not names:
        raise ValueError(f"must name a file (got {value!r})")
    return "/".join(names)


#: A relative path as a pydantic field (normalised; documented in its normal form).
RelativePath = Annotated[
    str,
    AfterValidator(safe_relative_path),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_LEN, "pattern": RELATIVE_PATH_PATTERN}
    ),
]
