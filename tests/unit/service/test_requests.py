from __future__ import annotations

import json

import pytest

from vatti.pipelines.base import default_registry
from vatti.pipelines.errors import InvalidParams, UnknownPipeline
from vatti.service.errors import InvalidJobRequest, MalformedRequest
from vatti.service.requests import new_job, parse_request

pytestmark = pytest.mark.unit


def raw(body: object) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize("text", [b"", b"{", b"[1,", b"\xff\xfe"])
def test_malformed_json(text: bytes) -> None:
    with pytest.raises(MalformedRequest) as info:
        parse_request(text)
    assert info.value.code == "malformed_json"


def test_not_an_object_names_the_body() -> None:
    with pytest.raises(InvalidJobRequest) as info:
        parse_request(b"[]")
    assert [d["field"] for d in info.value.details] == ["body"]


def test_request_fields_are_named() -> None:
    with pytest.raises(InvalidJobRequest) as info:
        parse_request(raw({"pipeline": "Bad Name", "labels": {"k": 1}}))
    assert {d["field"] for d in info.value.details} == {"pipeline", "labels.k"}


def test_params_errors_are_prefixed() -> None:
    request = parse_request(
        raw({"pipeline": "command", "params": {"command": "hello", "args": {"name": 3, "x": 1}}})
    )
    with pytest.raises(InvalidParams) as info:
        new_job(request, default_registry())
    assert {e["field"] for e in info.value.errors} == {"params.args.name", "params.args.x"}


def test_raw_argv_errors_are_prefixed() -> None:
    request = parse_request(
        raw({"pipeline": "command", "params": {"argv": [], "outputs": ["../x"]}})
    )
    with pytest.raises(InvalidParams) as info:
        new_job(request, default_registry(allow_raw_argv=True))
    assert {e["field"] for e in info.value.errors} == {"params.argv", "params.outputs.0"}


def test_unknown_pipeline() -> None:
    request = parse_request(raw({"pipeline": "nope"}))
    with pytest.raises(UnknownPipeline):
        new_job(request, default_registry())


def hello(name: str | None = None, **extra: object) -> bytes:
    args = {} if name is None else {"name": name}
    return raw({"pipeline": "command", "params": {"command": "hello", "args": args}, **extra})


def test_equivalent_requests_share_a_fingerprint() -> None:
    registry = default_registry()
    a = new_job(parse_request(hello()), registry)
    b = new_job(parse_request(hello("world", client_id="c1")), registry)  # the default, given
    c = new_job(parse_request(hello("Ada")), registry)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    assert b.client_id == "c1"
    assert "client_id" not in b.spec
    assert b.spec["params"] == {"command": "hello", "args": {"name": "world"}}


def test_a_raw_argv_spec_holds_its_env_and_outputs() -> None:
    registry = default_registry(allow_raw_argv=True)
    a = new_job(parse_request(raw({"pipeline": "command", "params": {"argv": ["x"]}})), registry)
    b = new_job(
        parse_request(raw({"pipeline": "command", "params": {"argv": ["x"], "env": {}}})), registry
    )
    assert a.fingerprint == b.fingerprint
    assert a.spec["params"] == {"argv": ["x"], "env": {}, "outputs": []}


def test_a_declared_command_sets_the_limits_a_request_may_lower() -> None:
    registry = default_registry()

    def limits(**resources: int) -> object:
        return new_job(parse_request(hello(resources=resources)), registry).spec["resources"]

    assert limits() == {"memory_mb": 512, "wall_time_s": 60}
    assert limits(memory_mb=32) == {"memory_mb": 32, "wall_time_s": 60}
    assert limits(wall_time_s=600) == {"memory_mb": 512, "wall_time_s": 600}  # up to its max
    assert limits(memory_mb=4096, wall_time_s=3600) == {"memory_mb": 1024, "wall_time_s": 600}


def test_webhook_url_is_kept_out_of_the_spec() -> None:
    job = new_job(parse_request(hello(webhook_url="https://h.org/x?t=1")), default_registry())
    assert job.webhook_url == "https://h.org/x?t=1"
    assert "webhook_url" not in job.spec
