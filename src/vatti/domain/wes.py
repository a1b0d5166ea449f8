"""GA4GH WES 1.1 run requests as vatti job requests, and back (pure).

A WES ``RunWorkflow`` is a multipart form of strings. vatti runs its own pipelines, never a
submitted workflow, so:

- ``workflow_type`` names a vatti pipeline (``pgs``, ``command``), ``workflow_type_version`` is
  the version of its request shape (:data:`WORKFLOW_TYPE_VERSIONS`), and ``workflow_url`` names
  the same pipeline again (the spec requires it; anything else is refused);
- ``workflow_params`` (a JSON object) are the pipeline's params, checked by the pipeline;
- ``tags`` (a JSON object of strings) are the job's labels;
- ``workflow_engine`` is ``vatti`` if given, ``workflow_engine_version`` the server's version;
- ``workflow_engine_parameters`` (a JSON object of strings) may hold ``memory_mb`` and
  ``wall_time_s`` (the job's ``resources``) and ``client_id`` (the job's unique client id);
- ``workflow_attachment`` is refused: there is no code of the client's to run.

Every other field is refused, and so is every value that would change nothing silently.
:func:`job_request_data` raises :class:`WesRequestError` naming the form field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vatti.domain.errors import DomainError

ENGINE: Final = "vatti"
#: the versions of each pipeline's request shape a run may name (one so far)
WORKFLOW_TYPE_VERSIONS: Final = ("1",)
#: the engine parameters a run may set, and the job request field each goes to
ENGINE_PARAMETERS: Final = {
    "memory_mb": ("resources", "memory_mb"),
    "wall_time_s": ("resources", "wall_time_s"),
    "client_id": (None, "client_id"),
}
#: the form fields the spec names (``workflow_attachment`` is a file part, refused)
FORM_FIELDS: Final = (
    "workflow_params",
    "workflow_type",
    "workflow_type_version",
    "tags",
    "workflow_engine",
    "workflow_engine_version",
    "workflow_engine_parameters",
    "workflow_url",
)
ATTACHMENT: Final = "workflow_attachment"
_REQUIRED: Final = ("workflow_type", "workflow_type_version", "workflow_url")
_INTEGER = re.compile(r"[0-9]{1,12}")


class WesRequestError(DomainError):
    """A WES run request vatti cannot run; ``field`` is the form field at fault."""

    code = "invalid_request"
    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class RunForm:
    """The form of a ``POST /runs``: each field's text (None when absent), and the names of
    any other parts (files, unknown fields)."""

    fields: Mapping[str, str | None]
    other_parts: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


def _json_object(form: RunForm, name: str) -> dict[str, Any] | None:
    text = form.get(name)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise WesRequestError(name, "must be a JSON object (it is not JSON)") from None
    if not isinstance(value, dict):
        raise WesRequestError(name, "must be a JSON object")
    return value


def _string_map(form: RunForm, name: str) -> dict[str, str] | None:
    value = _json_object(form, name)
    if value is None:
        return None
    for key, item in value.items():
        if not isinstance(item, str):
            raise WesRequestError(name, f"the value of {key!r} must be a string")
    return value


def job_request_data(form: RunForm, pipelines: list[str], engine_version: str) -> dict[str, Any]:
    """The vatti job request (JSON data for the job service) of a WES run form.

    >>> form = RunForm({"workflow_type": "pgs", "workflow_type_version": "1",
    ...                 "workflow_url": "pgs", "workflow_params": '{"a": 1}',
    ...                 "tags": '{"project": "x"}',
    ...                 "workflow_engine_parameters": '{"memory_mb": "512"}'})
    >>> data = job_request_data(form, ["command", "pgs"], "0.1.0")
    >>> data["pipeline"], data["params"], data["labels"], data["resources"]
    ('pgs', {'a': 1}, {'project': 'x'}, {'memory_mb': 512})
    """
    if form.other_parts:
        name = form.other_parts[0]
        if name == ATTACHMENT:
            raise WesRequestError(
                ATTACHMENT, "vatti runs its own pipelines; it takes no workflow files"
            )
        raise WesRequestError(name, f"unknown field; the fields are {', '.join(FORM_FIELDS)}")
    for name in _REQUIRED:
        if not form.get(name):
            raise WesRequestError(name, "is required")
    pipeline = str(form.get("workflow_type"))
    if pipeline not in pipelines:
        raise WesRequestError(
            "workflow_type", f"unknown pipeline {pipeline!r}; vatti runs {', '.join(pipelines)}"
        )
    if form.get("workflow_type_version") not in WORKFLOW_TYPE_VERSIONS:
        raise WesRequestError(
            "workflow_type_version",
            f"must be one of {', '.join(WORKFLOW_TYPE_VERSIONS)} (see service-info)",
        )
    if form.get("workflow_url") != pipeline:
        raise WesRequestError("workflow_url", f"must name the pipeline, {pipeline!r}")
    _check_engine(form, engine_version)
    data: dict[str, Any] = {"pipeline": pipeline}
    params = _json_object(form, "workflow_params")
    if params is not None:
        data["params"] = params
    tags = _string_map(form, "tags")
    if tags is not None:
        data["labels"] = tags
    data.update(_engine_parameters(form))
    return data


def _check_engine(form: RunForm, engine_version: str) -> None:
    engine, version = form.get("workflow_engine"), form.get("workflow_engine_version")
    if engine is not None and engine != ENGINE:
        raise WesRequestError("workflow_engine", f"must be {ENGINE!r}")
    if version is not None:
        if engine is None:
            raise WesRequestError("workflow_engine_version", "needs workflow_engine")
        if version != engine_version:
            raise WesRequestError("workflow_engine_version", f"must be {engine_version!r}")


def _engine_parameters(form: RunForm) -> dict[str, Any]:
    name = "workflow_engine_parameters"
    given = _string_map(form, name) or {}
    out: dict[str, Any] = {}
    for key, text in given.items():
        if key not in ENGINE_PARAMETERS:
            raise WesRequestError(
                name, f"unknown parameter {key!r}; known: {', '.join(ENGINE_PARAMETERS)}"
            )
        group, target = ENGINE_PARAMETERS[key]
        if group is None:
            out[target] = text
            continue
        if not _INTEGER.fullmatch(text):
            raise WesRequestError(name, f"{key} must be a whole number")
        out.setdefault(group, {})[target] = int(text)
    return out


def run_request_of(spec: Mapping[str, Any], pipeline: str, client_id: str | None) -> dict[str, Any]:
    """The WES ``RunRequest`` a stored job answers to (its validated, normalised spec).

    >>> run_request_of({"params": {"a": 1}, "labels": {}, "resources": {"memory_mb": 64,
    ...                 "wall_time_s": None}}, "pgs", "INTP1")["workflow_engine_parameters"]
    {'memory_mb': '64', 'client_id': 'INTP1'}
    """
    engine_parameters: dict[str, str] = {}
    for key, (group, target) in ENGINE_PARAMETERS.items():
        source = spec.get(group) if group is not None else {"client_id": client_id}
        value = source.get(target) if isinstance(source, Mapping) else None
        if value is not None:
            engine_parameters[key] = str(value)
    labels = spec.get("labels")
    return {
        "workflow_type": pipeline,
        "workflow_type_version": WORKFLOW_TYPE_VERSIONS[-1],
        "workflow_url": pipeline,
        "workflow_params": dict(spec.get("params") or {}),
        "tags": {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        "workflow_engine": ENGINE,
        "workflow_engine_parameters": engine_parameters,
    }
