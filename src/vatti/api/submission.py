"""From a POST body to a :class:`NewJob`: parse, validate params, fingerprint (pure)."""

from __future__ import annotations

from pydantic import ValidationError

from vatti.api.errors import ApiError, json_body_error, validation_details
from vatti.domain.fingerprint import fingerprint
from vatti.domain.requests import JobRequest
from vatti.pipelines.base import PipelineRegistry
from vatti.store.base import NewJob


def parse_job_request(raw: bytes) -> JobRequest:
    """The request in ``raw``; 400 for malformed or too deep JSON, 422 naming each bad field."""
    try:
        return JobRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        malformed = json_body_error(errors)
        if malformed is not None:
            raise malformed from exc
        details = [
            {"field": d["field"] or "body", "message": d["message"]}
            for d in validation_details(errors, strip=())
        ]
        raise ApiError(
            422, "invalid_request", "the job request is invalid", details=details
        ) from exc


def new_job(request: JobRequest, registry: PipelineRegistry) -> NewJob:
    """The job to store: params validated (and normalised) by the pipeline, then fingerprinted.

    Raises ``UnknownPipeline`` or ``InvalidParams`` (fields prefixed ``params.``).
    """
    params = registry.validate(request.pipeline, request.params)
    normalised = request.model_copy(update={"params": params})
    return NewJob(
        pipeline=normalised.pipeline,
        spec=normalised.model_dump(mode="json", exclude={"webhook_url", "client_id"}),
        fingerprint=fingerprint(normalised),
        client_id=normalised.client_id,
        webhook_url=str(normalised.webhook_url) if normalised.webhook_url else None,
    )
