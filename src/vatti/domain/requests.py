"""What a client asks for: a transport-neutral, validated job request.

``params`` stay opaque here; the pipeline registry validates them against the pipeline's own
model. Unknown fields are refused everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, field_validator

MAX_LABELS = 32
MAX_WALL_TIME_S = 30 * 24 * 3600

PipelineName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
]
ClientId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
]
LabelKey = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9._/-]+$")
]
LabelValue = Annotated[str, StringConstraints(max_length=256)]


class Resources(BaseModel):
    """Limits for one job; ``None`` means the service's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: int | None = Field(default=None, ge=16, le=1_048_576)
    wall_time_s: int | None = Field(default=None, ge=1, le=MAX_WALL_TIME_S)


class JobRequest(BaseModel):
    """A request to run ``pipeline`` with ``params``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline: PipelineName
    client_id: ClientId | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    webhook_url: HttpUrl | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS)

    @field_validator("webhook_url")
    @classmethod
    def _deliverable(cls, value: HttpUrl | None) -> HttpUrl | None:
        # the URL is stored to deliver to it: a password in it would be a secret in the database.
        # Receivers authenticate vatti by the X-Vatti-Signature header instead.
        if value is None:
            return value
        if value.username or value.password:
            raise ValueError("must not carry credentials (verify X-Vatti-Signature instead)")
        try:
            (value.host or "").encode("idna")
        except UnicodeError:
            raise ValueError(
                "has a host name that cannot be looked up (a label is empty "
                "or longer than 63 characters)"
            ) from None
        return value
