"""A WES run form as a vatti job request: every field it accepts changes the job, or is refused."""

from __future__ import annotations

from typing import Any

import pytest

from vatti.domain.wes import (
    ENGINE_PARAMETERS,
    FORM_FIELDS,
    RunForm,
    WesRequestError,
    job_request_data,
    run_request_of,
)

pytestmark = pytest.mark.unit

PIPELINES = ["command", "pgs"]
VERSION = "0.1.0"
BASE = {"workflow_type": "command", "workflow_type_version": "1", "workflow_url": "command"}


def mapped(**fields: str) -> dict[str, Any]:
    return job_request_data(RunForm({**BASE, **fields}), PIPELINES, VERSION)


def refused(form: RunForm) -> WesRequestError:
    with pytest.raises(WesRequestError) as caught:
        job_request_data(form, PIPELINES, VERSION)
    return caught.value


def test_the_three_required_fields_name_a_pipeline() -> None:
    assert mapped() == {"pipeline": "command"}
    assert mapped(workflow_type="pgs", workflow_url="pgs") == {"pipeline": "pgs"}


#: each accepted field, a value of it, and what it changes in the job request
CHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "workflow_params": ('{"command": "hello"}', {"params": {"command": "hello"}}),
    "tags": ('{"project": "p1"}', {"labels": {"project": "p1"}}),
    "workflow_engine_parameters": (
        '{"memory_mb": "256", "wall_time_s": "60", "client_id": "INTP1"}',
        {"resources": {"memory_mb": 256, "wall_time_s": 60}, "client_id": "INTP1"},
    ),
}
#: fields that only choose among what is offered: a value other than the one offered is refused
CHOOSING = {
    "workflow_type": "cwl",
    "workflow_type_version": "2",
    "workflow_url": "https://example.org/flow.cwl",
    "workflow_engine": "cromwell",
}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_a_field_changes_the_job(field: str) -> None:
    value, change = CHANGES[field]
    assert mapped(**{field: value}) == {"pipeline": "command", **change}


@pytest.mark.parametrize("field", sorted(CHOOSING))
def test_a_choosing_field_with_another_value_is_refused(field: str) -> None:
    err = refused(RunForm({**BASE, field: CHOOSING[field]}))
    assert err.field == field


def test_every_form_field_of_the_spec_is_accounted_for() -> None:
    accounted = {*CHANGES, *CHOOSING, "workflow_engine_version"}
    assert accounted == set(FORM_FIELDS)


def test_the_engine_and_its_version() -> None:
    assert mapped(workflow_engine="vatti", workflow_engine_version=VERSION) == mapped()
    assert refused(RunForm({**BASE, "workflow_engine_version": VERSION})).field == (
        "workflow_engine_version"
    )
    wrong = RunForm({**BASE, "workflow_engine": "vatti", "workflow_engine_version": "9"})
    assert "must be '0.1.0'" in str(refused(wrong))


@pytest.mark.parametrize("missing", ["workflow_type", "workflow_type_version", "workflow_url"])
def test_a_required_field_missing_or_empty(missing: str) -> None:
    fields = {k: v for k, v in BASE.items() if k != missing}
    assert refused(RunForm(fields)).field == missing
    assert refused(RunForm({**fields, missing: ""})).field == missing


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("workflow_params", "not json", "must be a JSON object (it is not JSON)"),
        ("workflow_params", "[1]", "must be a JSON object"),
        ("tags", '{"a": 1}', "the value of 'a' must be a string"),
        ("workflow_engine_parameters", '{"cpus": "2"}', "unknown parameter 'cpus'"),
        ("workflow_engine_parameters", '{"memory_mb": "1e3"}', "memory_mb must be a whole"),
        ("workflow_engine_parameters", '{"memory_mb": 512}', "must be a string"),
    ],
)
def test_bad_values_are_named(field: str, value: str, message: str) -> None:
    err = refused(RunForm({**BASE, field: value}))
    assert err.field == field
    assert message in err.message


def test_attachments_and_unknown_parts_are_refused() -> None:
    err = refused(RunForm(BASE, ("workflow_attachment",)))
    assert "takes no workflow files" in err.message
    assert refused(RunForm(BASE, ("colour",))).field == "colour"


def test_the_run_request_of_a_job_submits_the_same_job_again() -> None:
    data = mapped(
        workflow_params='{"command": "hello", "args": {"name": "Ada"}}',
        tags='{"project": "p1"}',
        workflow_engine_parameters='{"memory_mb": "256", "client_id": "INTP7"}',
    )
    spec = {"params": data["params"], "labels": data["labels"], "resources": data["resources"]}
    request = run_request_of(spec, "command", data["client_id"])
    again = RunForm({k: v if isinstance(v, str) else _json(v) for k, v in request.items()})
    assert job_request_data(again, PIPELINES, VERSION) == data
    assert set(request["workflow_engine_parameters"]) <= set(ENGINE_PARAMETERS)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
