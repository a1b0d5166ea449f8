from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from vatti.domain.requests import MAX_LABELS, MAX_WALL_TIME_S, JobRequest

pytestmark = pytest.mark.unit


def errors_for(data: dict[str, Any]) -> list[tuple[str, ...]]:
    with pytest.raises(ValidationError) as info:
        JobRequest.model_validate(data)
    return [tuple(str(p) for p in e["loc"]) for e in info.value.errors()]


def test_minimal_request_gets_defaults() -> None:
    req = JobRequest.model_validate({"pipeline": "pgs"})
    assert req.client_id is None
    assert req.params == {}
    assert req.resources.memory_mb is None
    assert req.resources.wall_time_s is None
    assert req.labels == {}


def test_full_request_round_trips() -> None:
    data = {
        "pipeline": "pgs-calc_2",
        "client_id": "backend:run.42-A",
        "params": {"x": [1, 2]},
        "resources": {"memory_mb": 16, "wall_time_s": MAX_WALL_TIME_S},
        "webhook_url": "https://example.org/hook",
        "results_public_key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "labels": {"team/a": "b"},
    }
    req = JobRequest.model_validate(data)
    assert req.model_dump(mode="json") == data


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("AAAA", "a crypt4gh public key is 32 bytes, this one 3"),
        ("not base64!", "not a crypt4gh public key"),
        ("-----BEGIN CRYPT4GH PUBLIC KEY-----\nAAAA", "ends with -----END CRYPT4GH PUBLIC KEY"),
    ],
)
def test_a_results_public_key_that_is_no_key_is_refused(key: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        JobRequest.model_validate({"pipeline": "pgs", "results_public_key": key})
    (error,) = info.value.errors()
    assert error["loc"] == ("results_public_key",)
    assert message in error["msg"]


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"pipeline": ""}, ("pipeline",)),
        ({"pipeline": "PGS"}, ("pipeline",)),
        ({"pipeline": "a" * 65}, ("pipeline",)),
        ({"pipeline": "pgs", "client_id": ""}, ("client_id",)),
        ({"pipeline": "pgs", "client_id": "a b"}, ("client_id",)),
        ({"pipeline": "pgs", "client_id": "a" * 129}, ("client_id",)),
        ({"pipeline": "pgs", "resources": {"memory_mb": 15}}, ("resources", "memory_mb")),
        ({"pipeline": "pgs", "resources": {"memory_mb": 1_048_577}}, ("resources", "memory_mb")),
        ({"pipeline": "pgs", "resources": {"wall_time_s": 0}}, ("resources", "wall_time_s")),
        (
            {"pipeline": "pgs", "resources": {"wall_time_s": 30 * 24 * 3600 + 1}},
            ("resources", "wall_time_s"),
        ),
        ({"pipeline": "pgs", "resources": {"cpus": 2}}, ("resources", "cpus")),
        ({"pipeline": "pgs", "webhook_url": "not a url"}, ("webhook_url",)),
        ({"pipeline": "pgs", "webhook_url": "ftp://x.org/"}, ("webhook_url",)),
        # a host label over 63 characters: valid to the URL parser, never deliverable
        ({"pipeline": "pgs", "webhook_url": f"http://{'a' * 64}.example/h"}, ("webhook_url",)),
        ({"pipeline": "pgs", "surprise": 1}, ("surprise",)),
        ({"pipeline": "pgs", "labels": {"bad key": "v"}}, ("labels", "bad key", "[key]")),
        ({"pipeline": "pgs", "labels": {"k": "v" * 257}}, ("labels", "k")),
    ],
)
def test_invalid_fields_are_named(data: dict[str, Any], loc: tuple[str, ...]) -> None:
    assert loc in errors_for(data)


def test_label_count_is_bounded() -> None:
    labels = {f"k{i}": "v" for i in range(MAX_LABELS)}
    JobRequest.model_validate({"pipeline": "pgs", "labels": labels})
    labels["one-more"] = "v"
    assert ("labels",) in errors_for({"pipeline": "pgs", "labels": labels})
