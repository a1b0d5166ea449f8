"""From a request body to a :class:`NewJob`: parse, validate params, fingerprint (pure).

Errors are the service's own (:class:`MalformedRequest`, :class:`InvalidJobRequest`) or the
pipeline registry's (``UnknownPipeline``, ``InvalidParams``); each edge translates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from vatti.domain.fingerprint import fingerprint
from vatti.domain.requests import MAX_JSON_NESTING, JobRequest, nested_too_deep
from vatti.pipelines.base import PipelineRegistry
from vatti.service.errors import InvalidJobRequest, JsonTooDeep, MalformedRequest
from vatti.store.base import NewJob


def parse_request(raw: bytes | str | Mapping[str, Any]) -> JobRequest:
    """The job request in ``raw`` (JSON text, or already-decoded JSON data).

    Raises :class:`MalformedRequest` for text that is not JSON, and
    :class:`InvalidJobRequest` naming each bad field otherwise.
    """
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
        raise InvalidJobRequest("the job request is invalid", details=_details(errors)) from exc


def _details(errors: Sequence[Any]) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ())) or "body", "message": e["msg"]}
        for e in errors
    ]


def new_job(request: JobRequest, registry: PipelineRegistry) -> NewJob:
    """The job to store: params validated (and normalised) by the pipeline, its limits set by
    the pipeline where it has its own (a declared command's), then fingerprinted.

    Raises ``UnknownPipeline`` or ``InvalidParams`` (fields prefixed ``params.`` or
    ``resources.``).
    """
    params, resources = registry.admit(request.pipeline, request.params, request.resources)
    normalised = request.model_copy(update={"params": params, "resources": resources})
    return NewJob(
        pipeline=normalised.pipeline,
        spec=normalised.model_dump(mode="json", exclude={"webhook_url", "client_id"}),
        fingerprint=fingerprint(normalised),
        client_id=normalised.client_id,
        webhook_url=str(normalised.webhook_url) if normalised.webhook_url else None,
    )
