from __future__ import annotations

import json

import pytest

from vatti.domain.access import OPERATOR_CALLER
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
    request = parse_request(raw({"pipeline": "command", "params": {"outputs": ["../x"]}}))
    with pytest.raises(InvalidParams) as info:
        new_job(request, default_registry(), OPERATOR_CALLER)
    assert {e["field"] for e in info.value.errors} == {"params.argv", "params.outputs.0"}


def test_unknown_pipeline() -> None:
    request = parse_request(raw({"pipeline": "nope"}))
    with pytest.raises(UnknownPipeline):
        new_job(request, default_registry(), OPERATOR_CALLER)


def test_equivalent_requests_share_a_fingerprint() -> None:
    registry = default_registry()
    a = new_job(
        parse_request(raw({"pipeline": "command", "params": {"argv": ["x"]}})),
        registry,
        OPERATOR_CALLER,
    )
    b = new_job(
        parse_request(
            raw({"pipeline": "command", "params": {"argv": ["x"], "env": {}}, "client_id": "c1"})
        ),
        registry,
        OPERATOR_CALLER,
    )
    c = new_job(
        parse_request(raw({"pipeline": "command", "params": {"argv": ["y"]}})),
        registry,
        OPERATOR_CALLER,
    )
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    assert b.client_id == "c1"
    assert "client_id" not in b.spec
    assert b.spec["params"] == {"argv": ["x"], "env": {}, "outputs": []}


def test_webhook_url_is_kept_out_of_the_spec() -> None:
    body = {"pipeline": "command", "params": {"argv": ["x"]}, "webhook_url": "https://h.org/x?t=1"}
    job = new_job(parse_request(raw(body)), default_registry(), OPERATOR_CALLER)
    assert job.webhook_url == "https://h.org/x?t=1"
    assert "webhook_url" not in job.spec
