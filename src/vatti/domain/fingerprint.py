"""A canonical fingerprint of a request, for deduplicating identical submissions.

The canonical form is JSON with sorted keys, no whitespace, and normalised numbers (an integral
float such as ``1.0`` is written as ``1``; ``-0.0`` as ``0``), hashed with SHA-256. The client id
is left out: it names a submission, it does not change what is asked for.

>>> a = canonical_json({"b": 1.0, "a": [True, None, "x"]})
>>> a
'{"a":[true,null,"x"],"b":1}'
>>> a == canonical_json({"a": [True, None, "x"], "b": 1})
True
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from vatti.domain.errors import InvalidRequest
from vatti.domain.requests import JobRequest

_MAX_EXACT_INT = 2**53


def _normalise(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequest(f"cannot fingerprint the non-finite number {value!r}")
        if value.is_integer() and abs(value) <= _MAX_EXACT_INT:
            return int(value)
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidRequest(f"cannot fingerprint a non-string key {key!r}")
            out[key] = _normalise(item)
        return out
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    raise InvalidRequest(f"cannot fingerprint a value of type {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a JSON-like value."""
    return json.dumps(
        _normalise(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def fingerprint_of(value: Any) -> str:
    """SHA-256 hex digest of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def fingerprint(request: JobRequest) -> str:
    """The fingerprint of a request, without its client id."""
    return fingerprint_of(request.model_dump(mode="json", exclude={"client_id"}))


def dedup_key(tenant: str, fingerprint: str) -> str:
    """The key under which a request is deduplicated: its fingerprint within its tenant, so two
    tenants sending the same request get a job each.

    >>> dedup_key("a", "f") != dedup_key("b", "f")
    True
    """
    return hashlib.sha256(f"{tenant}\0{fingerprint}".encode()).hexdigest()
