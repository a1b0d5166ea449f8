from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from vatti.domain.errors import InvalidRequest
from vatti.domain.fingerprint import canonical_json, fingerprint, fingerprint_of
from vatti.domain.requests import JobRequest

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "pipeline": "pgs",
    "params": {"scores": ["PGS000001", "PGS000002"], "min_overlap": 0.75, "opts": {"a": 1, "b": 2}},
    "resources": {"memory_mb": 2048},
    "labels": {"team": "x"},
}


def fp(data: dict[str, Any]) -> str:
    return fingerprint(JobRequest.model_validate(data))


def test_is_sha256_of_compact_sorted_json() -> None:
    value = {"b": [1, 2], "a": "é"}
    expected = hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()
    assert fingerprint_of(value) == expected


def test_key_order_and_whitespace_do_not_matter() -> None:
    text = json.dumps(BASE)
    reordered = json.loads(text, object_pairs_hook=lambda pairs: dict(reversed(pairs)))
    spaced = json.loads(json.dumps(BASE, indent=4))
    assert list(reordered) != list(BASE)
    assert fp(reordered) == fp(BASE) == fp(spaced)


def test_integral_floats_equal_ints() -> None:
    assert canonical_json({"x": 1.0, "y": -0.0, "z": 2.5}) == '{"x":1,"y":0,"z":2.5}'
    changed = json.loads(json.dumps(BASE))
    changed["params"]["opts"]["a"] = 1.0
    assert fp(changed) == fp(BASE)


def test_client_id_is_left_out() -> None:
    assert fp({**BASE, "client_id": "abc"}) == fp(BASE)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*prefix, i))]
    return [prefix]


def _with(data: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(data))
    target: Any = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


@pytest.mark.parametrize("path", _paths(BASE))
def test_any_value_changes_it(path: tuple[Any, ...]) -> None:
    target: Any = BASE
    for key in path:
        target = target[key]
    new = target + "x" if isinstance(target, str) else target * 2 + 1
    if path == ("pipeline",):
        new = "command"
    assert fp(_with(BASE, path, new)) != fp(BASE)


def test_adding_a_key_changes_it() -> None:
    assert fp({**BASE, "webhook_url": "https://example.org/hook"}) != fp(BASE)
    assert fp(_with(BASE, ("params", "extra"), None)) != fp(BASE)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "x"}, {"s": {1, 2}}])
def test_unrepresentable_values_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidRequest):
        canonical_json({"v": bad})
