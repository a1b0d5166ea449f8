"""From a request body to a :class:`NewJob`: parse, validate params, fingerprint (pure).

A body in hattivatti's message shape (``pipeline_param`` with ``globus_details`` and
``secret_key_details`` beside it) is translated to a ``pgs`` job request first
(:mod:`vatti.domain.hattivatti`), and its errors name the message's own fields.

Errors are the service's own (:class:`MalformedRequest`, :class:`InvalidJobRequest`) or the
pipeline registry's (``UnknownPipeline``, ``InvalidParams``); each edge translates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic_core
from pydantic import ValidationError

from vatti.domain import hattivatti
from vatti.domain.access import Caller
from vatti.domain.fingerprint import fingerprint
from vatti.domain.requests import MAX_JSON_NESTING, JobRequest, nested_too_deep
from vatti.domain.scopes import SUBMIT, command_of, format_scopes
from vatti.pipelines.base import PipelineRegistry
from vatti.pipelines.errors import InvalidParams
from vatti.service.errors import Forbidden, InvalidJobRequest, JsonTooDeep, MalformedRequest
from vatti.store.base import NewJob


def hattivatti_message(raw: bytes | str | Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The decoded body when it is a hattivatti message, else None (JSON errors are left to
    :func:`parse_request`)."""
    data: object = raw
    if isinstance(raw, bytes | str):
        marker = hattivatti.PIPELINE_PARAM
        if not (marker.encode() in raw if isinstance(raw, bytes) else marker in raw):
            return None  # the common case: no second parse of the body
        try:
            data = pydantic_core.from_json(raw)
        except ValueError:
            return None
    if isinstance(data, Mapping) and hattivatti.is_message(data):
        return data
    return None


def parse_request(raw: bytes | str | Mapping[str, Any]) -> JobRequest:
    """The job request in ``raw`` (JSON text, or already-decoded JSON data; a vatti request or
    a hattivatti message).

    Raises :class:`MalformedRequest` for text that is not JSON, and
    :class:`InvalidJobRequest` naming each bad field otherwise.
    """
    message = hattivatti_message(raw)
    if message is not None:
        try:
            raw = hattivatti.job_request_data(message)
        except hattivatti.MessageShapeError as exc:
            raise InvalidJobRequest(
                "the hattivatti message is invalid", details=exc.details
            ) from None
    try:
        if isinstance(raw, bytes | str):
            return JobRequest.model_validate_json(raw)
        return JobRequest.model_validate(dict(raw))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if nested_too_deep(errors):
            raise JsonTooDeep(
                f"the request body nests arrays and objects more than {MAX_JSON_NESTING} "
                "levels deep"
            ) from exc
        if any(e.get("type") == "json_invalid" for e in errors):
            raise MalformedRequest("the request body is not valid JSON") from exc
        details = _details(errors)
        if message is not None:
            details = [{**d, "field": hattivatti.message_field(d["field"])} for d in details]
            raise InvalidJobRequest("the hattivatti message is invalid", details=details) from exc
        raise InvalidJobRequest("the job request is invalid", details=details) from exc


def _details(errors: Sequence[Any]) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ())) or "body", "message": e["msg"]}
        for e in errors
    ]


def check_submit_scope(request: JobRequest, caller: Caller) -> None:
    """:class:`Forbidden` unless the caller's scopes let it submit this pipeline (and command)."""
    command = command_of(request.pipeline, request.params)
    if caller.may_submit(request.pipeline, command):
        return
    what = f"the {request.pipeline!r} pipeline" + (
        f" with command {command!r}" if command is not None else ""
    )
    allowed = format_scopes(s for s in caller.scopes if s.verb == SUBMIT) or "none"
    raise Forbidden(f"the token may not submit {what} (its submit scopes: {allowed})")


def new_job(request: JobRequest, registry: PipelineRegistry, caller: Caller) -> NewJob:
    """The job to store for ``caller``: its scopes checked (:class:`Forbidden`), then params
    validated (and normalised) by the pipeline, its limits set by the pipeline where it has its
    own (a declared command's), then fingerprinted.

    Raises ``UnknownPipeline`` or ``InvalidParams`` (fields prefixed ``params.`` or
    ``resources.``).
    """
    check_submit_scope(request, caller)
    params, resources = registry.admit(request.pipeline, request.params, request.resources)
    normalised = request.model_copy(update={"params": params, "resources": resources})
    return NewJob(
        pipeline=normalised.pipeline,
        spec=normalised.model_dump(mode="json", exclude={"webhook_url", "client_id"}),
        fingerprint=fingerprint(normalised),
        client_id=normalised.client_id,
        webhook_url=str(normalised.webhook_url) if normalised.webhook_url else None,
        tenant=caller.tenant,
        actor=caller.actor,
    )


def job_of_body(
    raw: bytes | str | Mapping[str, Any], registry: PipelineRegistry, caller: Caller
) -> NewJob:
    """:func:`new_job` of the request in ``raw`` (:func:`parse_request`); the errors of a
    hattivatti message's params name the message's fields."""
    request = parse_request(raw)
    try:
        return new_job(request, registry, caller)
    except InvalidParams as exc:
        if hattivatti_message(raw) is None:
            raise
        errors = [{**e, "field": hattivatti.message_field(e["field"])} for e in exc.errors]
        raise InvalidParams(request.pipeline, errors) from None
