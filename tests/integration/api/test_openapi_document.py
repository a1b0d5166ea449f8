"""What ``/openapi.json`` promises, and the refusals it documents (415, json_too_deep, 405)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict
from tests.integration.api.conftest import Api, auth, build_api, command_body

from vatti.domain.inputs import DeclaredInput
from vatti.domain.requests import MAX_JSON_NESTING
from vatti.pipelines.base import PipelineOutcome, PipelineRegistry, RunContext, default_registry

pytestmark = pytest.mark.integration

JOBS = "/api/v1/jobs"


async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    doc: dict[str, Any] = resp.json()
    return doc


def param(doc: dict[str, Any], path: str, name: str, method: str = "get") -> dict[str, Any]:
    found = [p for p in doc["paths"][path][method]["parameters"] if p["name"] == name]
    assert len(found) == 1
    schema: dict[str, Any] = found[0]["schema"]
    branches = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return branches[0] if branches else schema


async def test_the_job_request_is_a_union_on_pipeline(client: httpx.AsyncClient) -> None:
    doc = await document(client)
    schemas = doc["components"]["schemas"]

    union = schemas["JobRequest"]
    assert union["discriminator"] == {
        "propertyName": "pipeline",
        "mapping": {
            "command": "#/components/schemas/CommandJobRequest",
            "pgs": "#/components/schemas/PgsJobRequest",
        },
    }
    command = schemas["CommandJobRequest"]
    assert command["properties"]["pipeline"]["const"] == "command"
    assert command["properties"]["params"] == {"$ref": "#/components/schemas/CommandParams"}
    assert "params" in command["required"]
    variants = schemas["CommandParams"]["oneOf"]  # the declared commands; no raw argv
    assert [v["properties"]["command"]["const"] for v in variants] == ["hello", "noop"]
    assert all(set(v["properties"]) == {"command", "args"} for v in variants)
    name = variants[0]["properties"]["args"]["properties"]["name"]
    assert (name["type"], name["default"]) == ("string", "world")
    assert schemas["PgsParams"]["properties"]["target_genomes"]["minItems"] == 1


async def test_the_informational_pgs_fields_say_so(client: httpx.AsyncClient) -> None:
    schemas = (await document(client))["components"]["schemas"]

    params = schemas["PgsParams"]["properties"]
    assert params["id"]["description"].startswith("Informational:")
    assert params["nxf_params_file"]["anyOf"][0] == {"$ref": "#/components/schemas/NxfParamsFile"}
    nested = schemas["NxfParamsFile"]["properties"]
    assert nested["format"]["description"].startswith("Informational:")
    assert nested["format"]["const"] == "json"
    assert set(nested) == {"pgs_id", "pgp_id", "trait_efo", "target_build", "min_overlap", "format"}


async def test_a_pipeline_registered_later_is_in_the_union(
    tmp_path: Path, sqlite_database_url: str
) -> None:
    class EchoParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str

    class Echo:
        name = "echo-text"
        params_model = EchoParams

        def inputs(self, params: EchoParams) -> list[DeclaredInput]:
            return []

        def run(self, params: EchoParams, ctx: RunContext) -> PipelineOutcome:
            return PipelineOutcome(outputs=[])

    registry: PipelineRegistry = default_registry()
    registry.register("echo-text", Echo)
    api = build_api(sqlite_database_url, tmp_path, registry=registry)
    try:
        async with api.client() as client:
            schemas = (await document(client))["components"]["schemas"]
    finally:
        api.store.close()

    mapping = schemas["JobRequest"]["discriminator"]["mapping"]
    assert mapping["echo-text"] == "#/components/schemas/EchoTextJobRequest"
    assert schemas["EchoTextJobRequest"]["properties"]["params"] == {
        "$ref": "#/components/schemas/EchoParams"
    }


async def test_limits_and_forms_checked_by_hand_are_documented(
    api: Api, client: httpx.AsyncClient
) -> None:
    doc = await document(client)

    assert param(doc, JOBS, "limit")["maximum"] == api.config.page_limit_max == 500
    assert param(doc, JOBS, "pipeline")["pattern"] == "^[a-z0-9_-]+$"
    assert param(doc, JOBS, "cursor")["maxLength"] == 1024
    assert param(doc, f"{JOBS}/{{job_id}}", "job_id")["pattern"].startswith("^[0-9a-f]{8}-")
    name = param(doc, f"{JOBS}/{{job_id}}/outputs/{{name}}", "name")
    assert name["maxLength"] == 512
    too_large = doc["paths"][JOBS]["post"]["responses"]["413"]
    assert str(api.config.max_body_bytes) in too_large["description"]


async def test_probes_need_no_token_and_jobs_do(client: httpx.AsyncClient) -> None:
    doc = await document(client)

    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert doc["paths"]["/readyz"]["get"]["security"] == []
    assert "security" not in doc["paths"][JOBS]["post"]
    assert (await client.get("/healthz")).status_code == 200


async def test_errors_are_documented_as_the_json_envelope(client: httpx.AsyncClient) -> None:
    doc = await document(client)

    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/json"], (path, method)
    logs = doc["paths"][f"{JOBS}/{{job_id}}/logs"]["get"]["responses"]
    assert list(logs["200"]["content"]) == ["text/plain"]
    assert logs["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "415" in doc["paths"][JOBS]["post"]["responses"]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
async def test_a_body_that_is_not_json_is_415(
    api: Api, client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = auth("submitter")
    if content_type is not None:
        headers["Content-Type"] = content_type
    resp = await client.post(JOBS, content=json.dumps(command_body()), headers=headers)

    assert resp.status_code == 415
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["error"]["code"] == "unsupported_media_type"
    assert api.job_count() == 0


async def test_json_with_a_charset_is_json(client: httpx.AsyncClient) -> None:
    headers = {**auth("submitter"), "Content-Type": "application/json; charset=utf-8"}
    resp = await client.post(JOBS, content=json.dumps(command_body()), headers=headers)
    assert resp.status_code == 201


async def test_a_token_is_checked_before_the_content_type(client: httpx.AsyncClient) -> None:
    resp = await client.post(JOBS, content=b"x", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 401


@pytest.mark.parametrize("depth", [MAX_JSON_NESTING + 1, 10_000])
async def test_json_nested_too_deep_says_so(
    api: Api, client: httpx.AsyncClient, depth: int
) -> None:
    raw = '{"pipeline": "command", "params": {"command": "noop", "x": ' + "[" * (depth - 2)
    raw += "]" * (depth - 2) + "}}"
    headers = {**auth("submitter"), "Content-Type": "application/json"}
    resp = await client.post(JOBS, content=raw, headers=headers)

    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "json_too_deep"
    assert str(MAX_JSON_NESTING) in error["message"]
    assert api.job_count() == 0


async def test_json_nested_to_the_limit_is_parsed(client: httpx.AsyncClient) -> None:
    depth = MAX_JSON_NESTING
    raw = '{"pipeline": "command", "params": {"command": "noop", "x": ' + "[" * (depth - 2)
    raw += "]" * (depth - 2) + "}}"
    headers = {**auth("submitter"), "Content-Type": "application/json"}
    resp = await client.post(JOBS, content=raw, headers=headers)

    assert resp.status_code == 422  # parsed: then the command pipeline refuses the unknown "x"
    assert [d["field"] for d in resp.json()["error"]["details"]] == ["params.x"]


async def test_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    resp = await client.delete(JOBS, headers=auth("admin"))

    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, POST"
    assert resp.json()["error"]["code"] == "method_not_allowed"


def keywords(schema: Any) -> set[str]:
    if isinstance(schema, list):
        return set().union(*map(keywords, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, value in schema.items():
        if key not in ("properties", "patternProperties", "$defs", "mapping", "default"):
            found |= keywords(value)
        elif key != "default":
            found |= keywords(list(value.values()))
    return found


async def test_schemas_use_json_schema_keywords_only(client: httpx.AsyncClient) -> None:
    # pydantic writes a constraint it could not translate under its own name ("ge", "le"...),
    # which JSON Schema tools ignore
    schemas = (await document(client))["components"]["schemas"]
    assert not keywords(list(schemas.values())) & {"ge", "gt", "le", "lt", "max_length"}


async def test_the_request_body_says_hattivattis_message_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    schemas = (await document(client))["components"]["schemas"]
    description = schemas["JobRequest"]["description"]
    assert "hattivatti's job message, {pipeline_param, globus_details, secret_key_details}" in (
        description
    )
    assert {"GlobusDetails", "SecretKeyDetails"} <= set(schemas)
