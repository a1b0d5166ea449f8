"""What a client asks for: a transport-neutral, validated job request.

``params`` stay opaque here; the pipeline registry validates them against the pipeline's own
model. Unknown fields are refused everywhere, and values are not coerced (strict: ``"16"`` is no
integer, ``0`` no boolean), so the JSON schema says what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    create_model,
    field_validator,
)

from vatti.domain.recipients import PATTERN as PUBLIC_KEY_PATTERN
from vatti.domain.recipients import parse_public_key
from vatti.domain.scopes import command_of

MAX_LABELS = 32
#: The deepest nesting of arrays and objects a JSON body may have (the JSON parser's limit).
MAX_JSON_NESTING = 201
MAX_WALL_TIME_S = 30 * 24 * 3600

PIPELINE_PATTERN = r"^[a-z0-9_-]+$"
PipelineName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=PIPELINE_PATTERN)
]
ClientId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
]
LabelKey = Annotated[  # the length in the pattern too: it documents the keys of ``labels``
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9._/-]{1,63}$")
]
LabelValue = Annotated[str, StringConstraints(max_length=256, pattern=r"^[^\x00]*$")]


def nested_too_deep(errors: Sequence[Mapping[str, Any]]) -> bool:
    """Whether pydantic's errors say the JSON text nests deeper than :data:`MAX_JSON_NESTING`."""
    return any(
        e.get("type") == "json_invalid" and "recursion limit" in str(e.get("ctx", {}).get("error"))
        for e in errors
    )


def nul_path(value: Any, path: str = "") -> str | None:
    """Where the first NUL character in a JSON value is (a dotted path, "" at the top), or None.

    >>> nul_path({"argv": ["ok", "b\\x00d"]}), nul_path({"k\\x00": 1}), nul_path([1, "x"])
    ('.argv.1', '.k\\x00', None)
    """
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if "\x00" in str(key):
                return where
            found = nul_path(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}.{index}")
            if found is not None:
                return found
    return None


def integral(value: Any) -> Any:
    """A float without a fraction as an int: JSON Schema's integers include ``16.0`` (and the
    strict models refuse ``"16"`` and ``true``).

    >>> integral(16.0), integral(16.5), integral("16")
    (16, 16.5, '16')
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Resources(BaseModel):
    """Limits for one job; ``None`` means the service's default."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    memory_mb: int | None = Field(
        default=None,
        ge=16,
        le=1_048_576,
        description="Memory limit of the job (MiB), at most the service's.",
    )
    wall_time_s: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WALL_TIME_S,
        description="Wall-time limit of the running job (s), at most the service's.",
    )

    @field_validator("memory_mb", "wall_time_s", mode="before")
    @classmethod
    def _integral(cls, value: Any) -> Any:
        return integral(value)


class JobRequest(BaseModel):
    """A request to run ``pipeline`` with ``params``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    pipeline: PipelineName = Field(description="The pipeline to run (command, pgs...).")
    client_id: ClientId | None = Field(
        default=None,
        description="The client's unique id of the job (hattivatti's INTP id): submitting it "
        "again answers 409 with the job; it is the run_name of the notifications.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="The pipeline's params, checked by the pipeline."
    )
    resources: Resources = Field(default_factory=Resources)
    webhook_url: HttpUrl | None = Field(
        default=None,
        description="A webhook notified of every state change of the job, in addition to the "
        "service's.",
    )
    results_public_key: str | None = Field(
        default=None,
        max_length=1024,
        json_schema_extra={"pattern": PUBLIC_KEY_PATTERN},
        description="A crypt4gh public key (the .pub file of crypt4gh-keygen, or its base64 "
        "line): every result file is uploaded encrypted for it, as NAME.c4gh, and only its "
        "secret key reads them.",
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        max_length=MAX_LABELS,
        description="Informational: the client's own tags, shown with the job; they change "
        "nothing it does.",
    )

    @property
    def command(self) -> str | None:
        """The declared command it runs (see :func:`~vatti.domain.scopes.command_of`)."""
        return command_of(self.pipeline, self.params)

    @field_validator("params")
    @classmethod
    def _no_nul(cls, value: dict[str, Any]) -> dict[str, Any]:
        # NUL cannot be stored (PostgreSQL's JSON refuses it) nor passed to a program
        where = nul_path(value)
        if where is not None:
            raise ValueError(f"must not contain NUL (\\u0000) characters (at params{where})")
        return value

    @field_validator("results_public_key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        if value is not None:
            parse_public_key(value)
        return value

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


def pipeline_request_models(params_models: Mapping[str, type[BaseModel]]) -> list[type[JobRequest]]:
    """One :class:`JobRequest` per pipeline: ``pipeline`` fixed, ``params`` its own model.

    For documentation (the OpenAPI document's discriminated union on ``pipeline``); requests
    are parsed as :class:`JobRequest`, their params by the pipeline registry, as ever. ``params``
    is required when the pipeline's model has a required field (an absent ``params`` is ``{}``).
    """
    models = []
    for name, params_model in sorted(params_models.items()):
        required = any(f.is_required() for f in params_model.model_fields.values())
        params: Any = (params_model, ... if required else Field(default_factory=params_model))
        fixed: Any = Literal[name]
        title = "".join(part.capitalize() for part in re.split(r"[-_]", name)) + "JobRequest"
        models.append(
            create_model(
                title,
                __base__=JobRequest,
                __doc__=f"A request to run the {name!r} pipeline.",
                pipeline=(fixed, ...),
                params=params,
            )
        )
    return models
