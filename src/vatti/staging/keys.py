"""Validation of object keys (pure)."""

from __future__ import annotations

from vatti.staging.errors import InvalidKey


def check_key(key: str) -> str:
    """``key`` if it is a safe object key, else :class:`InvalidKey`.

    >>> check_key("jobs/j1/results/out.txt")
    'jobs/j1/results/out.txt'
    >>> for bad in ("", "/etc/passwd", "jobs/../x", "a//b", "a/./b", "a/", "a\\\\b"):
    ...     try:
    ...         check_key(bad)
    ...     except InvalidKey:
    ...         pass
    ...     else:
    ...         print("accepted", bad)
    """
    if not key:
        raise InvalidKey("empty object key")
    _check_parts(key, key.split("/"))
    return key


def check_prefix(prefix: str) -> str:
    """``prefix`` if it is a safe, non-empty key prefix (a trailing ``/`` is allowed).

    >>> check_prefix("jobs/j1/work/")
    'jobs/j1/work/'
    """
    if not prefix or prefix == "/":
        raise InvalidKey("empty object key prefix")
    parts = prefix.split("/")
    if parts[-1] == "":
        parts = parts[:-1]
    _check_parts(prefix, parts)
    return prefix


def check_segment(name: str, what: str = "name") -> str:
    """``name`` if it is one safe key segment (no ``/``), e.g. a job id.

    >>> check_segment("j1")
    'j1'
    """
    if "/" in name:
        raise InvalidKey(f"invalid {what}: {name!r} contains '/'")
    _check_parts(name, [name])
    return name


def _check_parts(key: str, parts: list[str]) -> None:
    if "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidKey(f"invalid object key {key!r}: backslash or control character")
    for part in parts:
        if part in {"", ".", ".."}:
            raise InvalidKey(f"invalid object key {key!r}: empty, '.' or '..' part")
