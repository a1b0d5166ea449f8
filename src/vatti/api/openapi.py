"""The OpenAPI document: FastAPI's own, completed with what the server enforces by hand.

The job request is parsed after authentication, by hand, so FastAPI cannot see it: its schema is
a union discriminated on ``pipeline``, one member per registered pipeline with that pipeline's
params model. Limits that are settings (the page size cap, the body size) and the rules checked
in handlers (job id form, output names, the opaque cursor) are written into the parameters;
every error is the JSON envelope, whatever the operation's success media type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from vatti.api.config import ApiConfig
from vatti.domain.ids import ID_PATTERN
from vatti.domain.requests import pipeline_request_models
from vatti.pipelines.base import PipelineRegistry
from vatti.pipelines.paths import MAX_LEN, RELATIVE_PATH_PATTERN

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_BODY = {"$ref": REF_TEMPLATE.format(model="ErrorBody")}
#: every string of a job request is refused when it holds NUL (PostgreSQL's JSON cannot store it)
NUL_FREE = "^[^\\u0000]*$"
UNSECURED = frozenset({"/healthz", "/readyz"})
JOBS = "/api/v1/jobs"
#: where a submitted job can be read at once (its outputs and logs come later, when it has run)
JOB_LINKS = {
    "job": (f"{JOBS}/{{job_id}}", "get"),
    "events": (f"{JOBS}/{{job_id}}/events", "get"),
    "cancel": (f"{JOBS}/{{job_id}}/cancel", "post"),
}


def openapi_document(app: FastAPI, registry: PipelineRegistry, config: ApiConfig) -> dict[str, Any]:
    """The whole document for ``app`` (loads every pipeline, to describe its params)."""
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(job_request_schemas(registry.params_models()))
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    doc["security"] = [{"bearer": []}]
    _link_created_job(doc["paths"])
    rules = parameter_rules(config)
    for path, item in doc["paths"].items():
        for operation in item.values():
            if path in UNSECURED:
                operation["security"] = []
            _complete_operation(operation, rules, config)
    return doc


#: what the request body's description adds when the ``pgs`` pipeline is registered
HATTIVATTI_NOTE = (
    " The body may also be hattivatti's job message, {pipeline_param, globus_details, "
    "secret_key_details}: pipeline_param is a PgsParams without its globus_details and "
    "secret_key_details, which sit beside it (GlobusDetails, SecretKeyDetails); it runs as a "
    "pgs job whose client_id is pipeline_param.id, and its errors name the message's fields."
)


def job_request_schemas(params_models: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """``JobRequest`` (a union discriminated on ``pipeline``) and every schema it refers to."""
    models = pipeline_request_models(params_models)
    refs, top = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = top.get("$defs", {})
    for schema in schemas.values():
        _tighten(schema)
    mapping = {
        name: refs[(model, "validation")]["$ref"]
        for name, model in zip(sorted(params_models), models, strict=True)
    }
    schemas["JobRequest"] = {
        "title": "JobRequest",
        "description": "A request to run a pipeline; ``params`` are that pipeline's own. The "
        "whole body is refused with 400 malformed_json when it is not JSON and json_too_deep "
        "when it nests arrays and objects too deeply."
        + (HATTIVATTI_NOTE if "pgs" in mapping else ""),
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "pipeline", "mapping": mapping},
    }
    return schemas


def parameter_rules(config: ApiConfig) -> dict[tuple[str, str], dict[str, Any]]:
    """Schema keywords of parameters checked by hand, by (location, name)."""
    return {
        ("path", "job_id"): {"pattern": f"^{ID_PATTERN.pattern}$"},
        ("path", "name"): {"pattern": RELATIVE_PATH_PATTERN, "maxLength": MAX_LEN},
        ("query", "limit"): {"maximum": config.page_limit_max},
        ("query", "cursor"): {"pattern": "^[A-Za-z0-9_-]*$"},
    }


def _link_created_job(paths: Mapping[str, Any]) -> None:
    """OpenAPI links from a submission's answer to the operations on the job it names."""
    submit = paths.get(JOBS, {}).get("post")
    if submit is None:
        return
    links = {}
    for name, (path, method) in JOB_LINKS.items():
        operation = paths.get(path, {}).get(method)
        if operation is not None:
            links[name] = {
                "operationId": operation["operationId"],
                "parameters": {"job_id": "$response.body#/id"},
            }
    for status in ("200", "201"):
        if status in submit["responses"]:
            submit["responses"][status]["links"] = links


def _complete_operation(
    operation: dict[str, Any],
    rules: Mapping[tuple[str, str], Mapping[str, Any]],
    config: ApiConfig,
) -> None:
    for param in operation.get("parameters", []):
        rule = rules.get((param.get("in", ""), param.get("name", "")))
        if rule:
            _constrain(param["schema"], rule)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "requestBody" in operation:
        responses["415"] = {"description": "the body is not application/json"}
    if "413" in responses:
        responses["413"]["description"] = (
            f"the request body is larger than {config.max_body_bytes} bytes"
        )
    for status, response in responses.items():
        if status[:1] in ("4", "5"):
            content = response.get("content", {})
            schema = next((c["schema"] for c in content.values() if "schema" in c), ERROR_BODY)
            response["content"] = {"application/json": {"schema": schema}}


def _constrain(schema: dict[str, Any], rule: Mapping[str, Any]) -> None:
    """Add ``rule`` to a parameter's schema, into its non-null branch when it is optional."""
    branches = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    for target in branches or [schema]:
        target.update(rule)


def _tighten(schema: Any) -> None:
    """Say in the schema what pydantic enforces implicitly: constrained dict keys refuse others,
    and no string holds NUL."""
    if isinstance(schema, list):
        for item in schema:
            _tighten(item)
        return
    if not isinstance(schema, dict):
        return
    if "patternProperties" in schema:
        schema.setdefault("additionalProperties", False)
    if schema.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(schema):
        schema["pattern"] = NUL_FREE
    for value in schema.values():
        _tighten(value)
