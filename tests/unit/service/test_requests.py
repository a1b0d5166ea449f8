from __future__ import annotations

import json

import pytest

from vatti.domain.access import OPERATOR_CALLER
from vatti.pipelines.base import default_registry
from vatti.pipelines.errors import InvalidParams, UnknownPipeline
from vatti.service.errors import InvalidJobRequest, MalformedRequest
from vatti.service.requests import new_job, parse_request
from vatti.testing.messages import hattivatti_message

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
        new_job(request, default_registry(), OPERATOR_CALLER)
    assert {e["field"] for e in info.value.errors} == {"params.args.name", "params.args.x"}


def test_raw_argv_errors_are_prefixed() -> None:
    request = parse_request(
        raw({"pipeline": "command", "params": {"argv": [], "outputs": ["../x"]}})
    )
    with pytest.raises(InvalidParams) as info:
        new_job(request, default_registry(allow_raw_argv=True), OPERATOR_CALLER)
    assert {e["field"] for e in info.value.errors} == {"params.argv", "params.outputs.0"}


def test_unknown_pipeline() -> None:
    request = parse_request(raw({"pipeline": "nope"}))
    with pytest.raises(UnknownPipeline):
        new_job(request, default_registry(), OPERATOR_CALLER)


def hello(name: str | None = None, **extra: object) -> bytes:
    args = {} if name is None else {"name": name}
    return raw({"pipeline": "command", "params": {"command": "hello", "args": args}, **extra})


def test_equivalent_requests_share_a_fingerprint() -> None:
    registry = default_registry()
    a = new_job(parse_request(hello()), registry, OPERATOR_CALLER)
    b = new_job(
        parse_request(hello("world", client_id="c1")), registry, OPERATOR_CALLER
    )  # the default, given
    c = new_job(parse_request(hello("Ada")), registry, OPERATOR_CALLER)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    assert b.client_id == "c1"
    assert "client_id" not in b.spec
    assert b.spec["params"] == {"command": "hello", "args": {"name": "world"}}


def test_a_raw_argv_spec_holds_its_env_and_outputs() -> None:
    registry = default_registry(allow_raw_argv=True)
    a = new_job(
        parse_request(raw({"pipeline": "command", "params": {"argv": ["x"]}})),
        registry,
        OPERATOR_CALLER,
    )
    b = new_job(
        parse_request(raw({"pipeline": "command", "params": {"argv": ["x"], "env": {}}})),
        registry,
        OPERATOR_CALLER,
    )
    assert a.fingerprint == b.fingerprint
    assert a.spec["params"] == {"argv": ["x"], "env": {}, "outputs": []}


def test_a_declared_command_sets_the_limits_a_request_may_lower() -> None:
    registry = default_registry()

    def limits(**resources: int) -> object:
        new = new_job(parse_request(hello(resources=resources)), registry, OPERATOR_CALLER)
        return new.spec["resources"]

    assert limits() == {"memory_mb": 512, "wall_time_s": 60}
    assert limits(memory_mb=32) == {"memory_mb": 32, "wall_time_s": 60}
    assert limits(wall_time_s=600) == {"memory_mb": 512, "wall_time_s": 600}  # up to its max
    assert limits(memory_mb=4096, wall_time_s=3600) == {"memory_mb": 1024, "wall_time_s": 600}


def test_webhook_url_is_kept_out_of_the_spec() -> None:
    job = new_job(
        parse_request(hello(webhook_url="https://h.org/x?t=1")), default_registry(), OPERATOR_CALLER
    )
    assert job.webhook_url == "https://h.org/x?t=1"
    assert "webhook_url" not in job.spec


def test_a_hattivatti_message_becomes_a_pgs_job_of_its_encrypted_files() -> None:
    from vatti.pipelines.pgs.params import PgsParams
    from vatti.pipelines.pgs.pipeline import declared_inputs
    from vatti.service.requests import job_of_body

    new = job_of_body(raw(hattivatti_message()), default_registry(), OPERATOR_CALLER)

    assert (new.pipeline, new.client_id) == ("pgs", "INTP00000028")
    declared = {d.key: d for d in declared_inputs(PgsParams.model_validate(new.spec["params"]))}
    assert sorted(declared) == ["hapnest.pgen", "hapnest.psam", "hapnest.pvar"]
    pgen = declared["hapnest.pgen"]
    assert pgen.location == "bwingfield@ebi.ac.uk/hapnestgcp/hapnest.pgen.c4gh"
    assert (pgen.size, pgen.is_encrypted, pgen.from_collection) == (278705850, True, True)
    assert pgen.key_ref is not None
    assert pgen.key_ref.secret_id.startswith("81d5c400")
    assert pgen.staged_name == "hapnest.pgen"


@pytest.mark.parametrize(
    ("message", "fields", "text"),
    [
        (hattivatti_message(kafka_offset=3), {"kafka_offset"}, "not part of hattivatti's message"),
        ({"pipeline_param": [1]}, {"pipeline_param"}, "must be an object"),
        (
            {"pipeline_param": {**hattivatti_message()["pipeline_param"], "globus_details": {}}},  # type: ignore[dict-item]
            {"pipeline_param.globus_details"},
            "beside pipeline_param, not inside it",
        ),
    ],
)
def test_a_bad_hattivatti_shape_names_its_fields(
    message: dict[str, object], fields: set[str], text: str
) -> None:
    with pytest.raises(InvalidJobRequest) as info:
        parse_request(raw(message))
    assert info.value.message == "the hattivatti message is invalid"
    assert {d["field"] for d in info.value.details} == fields
    assert all(text in d["message"] for d in info.value.details)


def test_a_hattivatti_messages_params_errors_name_its_own_fields() -> None:
    from vatti.service.requests import job_of_body

    message = hattivatti_message()
    message["globus_details"]["files"][0]["size"] = -1  # type: ignore[index]
    message["pipeline_param"]["target_genomes"][0]["format"] = "bam"  # type: ignore[index]
    with pytest.raises(InvalidParams) as info:
        job_of_body(raw(message), default_registry(), OPERATOR_CALLER)
    assert {e["field"] for e in info.value.errors} == {
        "globus_details.files.0.size",
        "pipeline_param.target_genomes.0.format",
    }


def test_a_hattivatti_run_id_that_is_no_client_id_is_named_as_the_messages_id() -> None:
    with pytest.raises(InvalidJobRequest) as info:
        parse_request(raw(hattivatti_message("INTP 01")))
    assert [d["field"] for d in info.value.details] == ["pipeline_param.id"]
