"""Errors raised while validating or running a pipeline."""

from __future__ import annotations

from vatti.errors import VattiError


class PipelineError(VattiError):
    """Root of pipeline errors."""

    code = "pipeline_error"


class UnknownPipeline(PipelineError):
    code = "unknown_pipeline"
    exit_code = 2

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown pipeline {name!r}; known pipelines: {', '.join(sorted(known))}")
        self.name = name


class InvalidParams(PipelineError):
    """The params of a request do not fit the pipeline; ``errors`` name each bad field."""

    code = "invalid_params"
    exit_code = 2

    def __init__(self, pipeline: str, errors: list[dict[str, str]]) -> None:
        lines = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(f"invalid params for pipeline {pipeline!r}: {lines}")
        self.errors = errors


class StepFailed(PipelineError):
    """A step of the pipeline failed; ``step`` and ``step_exit`` go into the failure record."""

    code = "pipeline_failed"

    def __init__(
        self, step: str, message: str, *, step_exit: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.step = step
        self.step_exit = step_exit
        if code is not None:
            self.code = code
