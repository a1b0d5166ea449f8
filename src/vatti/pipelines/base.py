"""The pipeline interface and its registry.

A pipeline is a name, a pydantic model of its params, and a ``run`` that does the work inside
the job process (``vatti job-run``) in a private local work directory. The service validates
params at submission through :meth:`PipelineRegistry.validate`, so bad input is refused before a
job exists, with one error per bad field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from vatti.domain.inputs import DeclaredInput
from vatti.domain.outcome import JobWarning
from vatti.domain.requests import Resources
from vatti.isolation.sandbox import Sandbox
from vatti.pipelines.errors import InvalidParams, UnknownPipeline

if TYPE_CHECKING:
    from vatti.config import Settings
    from vatti.pipelines.command_catalog import CommandCatalog

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class PgsCatalogAccess:
    """Where the PGS Catalog's scoring files are cached, fetched from, and whether to fetch."""

    cache_dir: Path
    url: str
    offline: bool


@dataclass(frozen=True)
class JobSettings:
    """The runtime's settings a pipeline may use, typed (:meth:`from_settings` derives them).

    ``input_root``: local input paths of a request must lie under it (None: none are read);
    ``pgs_catalog``: the PGS Catalog's cache and API (None: catalog ids cannot be resolved).
    """

    input_root: Path | None = None
    pgs_catalog: PgsCatalogAccess | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JobSettings:
        """The job's view of the ``runtime`` component's validated settings."""
        runtime = settings.runtime
        if runtime is None:
            return cls()
        root = runtime.input_root
        return cls(
            input_root=root.resolve() if root is not None else None,
            pgs_catalog=PgsCatalogAccess(
                settings.pgs_catalog_dir(), runtime.pgs_catalog_url, runtime.pgs_offline
            ),
        )


@dataclass(frozen=True)
class RunContext:
    """What a pipeline gets to run one job.

    ``work_dir`` is private clear-text scratch space (deleted when the job process ends);
    ``output_dir`` is where the pipeline leaves the files to upload to the results area;
    ``settings`` are the runtime's settings a pipeline may need (input root, PGS Catalog);
    ``inputs`` are the local paths of the inputs the pipeline declared, staged by the runtime
    into the job's scratch, by key; ``sandbox`` runs the job's commands (under the job's own
    uid when the service runs as root): a pipeline starts every command through it.
    """

    job_id: str
    work_dir: Path
    output_dir: Path
    log: logging.LoggerAdapter[logging.Logger]
    settings: JobSettings = field(default_factory=JobSettings)
    inputs: Mapping[str, Path] = field(default_factory=dict)
    sandbox: Sandbox = field(default_factory=Sandbox)


@dataclass(frozen=True)
class PipelineOutcome:
    """Outputs the pipeline produced, as paths relative to ``RunContext.output_dir``, and what
    it did not do although it succeeded (e.g. scores dropped below ``min_overlap``)."""

    outputs: list[str]
    warnings: list[JobWarning] = field(default_factory=list)
    #: the figures the outcome's ``summary`` carries (:attr:`vatti.domain.outcome.Outcome.summary`)
    summary: dict[str, Any] = field(default_factory=dict)


class Pipeline(Protocol[P]):
    """One kind of work a job can do."""

    name: str
    params_model: type[P]

    def inputs(self, params: P) -> list[DeclaredInput]:
        """The files the job reads: the runtime stages them before :meth:`run`."""
        ...

    def run(self, params: P, ctx: RunContext) -> PipelineOutcome:
        """Do the work; raise :class:`vatti.pipelines.errors.StepFailed` on failure."""
        ...


@runtime_checkable
class LimitedPipeline(Protocol):
    """A pipeline whose params set a job's limits (the ``command`` pipeline's commands)."""

    def resources(self, params: Any, requested: Resources) -> Resources:
        """The job's limits for ``params`` from those ``requested`` (InvalidParams, fields
        ``resources.*``, for a request the pipeline refuses)."""
        ...


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One ``{"field", "message"}`` entry per pydantic error, fields as dotted paths."""
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        out.append(
            {"field": f"{prefix}{loc}" if loc else prefix.rstrip("."), "message": err["msg"]}
        )
    return out


@dataclass
class RegisteredPipeline(Generic[P]):
    pipeline: Pipeline[P]

    def parse(self, params: Mapping[str, Any]) -> P:
        try:
            return self.pipeline.params_model.model_validate(dict(params))
        except ValidationError as exc:
            raise InvalidParams(self.pipeline.name, field_errors(exc, "params.")) from exc


class PipelineRegistry:
    """Pipelines by name. Factories are called lazily, so optional heavy imports wait for use."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Pipeline[Any]]] = {}
        self._loaded: dict[str, Pipeline[Any]] = {}

    def register(self, name: str, factory: Callable[[], Pipeline[Any]]) -> None:
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def get(self, name: str) -> Pipeline[Any]:
        if name not in self._loaded:
            factory = self._factories.get(name)
            if factory is None:
                raise UnknownPipeline(name, self.names())
            self._loaded[name] = factory()
        return self._loaded[name]

    def parse(self, name: str, params: Mapping[str, Any]) -> BaseModel:
        """Validate ``params`` for pipeline ``name``; raise UnknownPipeline or InvalidParams."""
        parsed: BaseModel = RegisteredPipeline(self.get(name)).parse(params)
        return parsed

    def validate(self, name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The validated params as plain JSON data (what the job spec stores)."""
        return self.parse(name, params).model_dump(mode="json")

    def admit(
        self, name: str, params: Mapping[str, Any], requested: Resources
    ) -> tuple[dict[str, Any], Resources]:
        """The validated params (as :meth:`validate`) and the job's limits: those requested,
        set or bounded by the pipeline where it has its own (see :class:`LimitedPipeline`)."""
        parsed = self.parse(name, params)
        pipeline = self.get(name)
        if isinstance(pipeline, LimitedPipeline):
            requested = pipeline.resources(parsed, requested)
        return parsed.model_dump(mode="json"), requested

    def params_models(self) -> dict[str, type[BaseModel]]:
        """Each pipeline's params model by name (loads every pipeline: for documentation)."""
        return {name: self.get(name).params_model for name in self.names()}


def default_registry(
    commands: Path | CommandCatalog | None = None, *, allow_raw_argv: bool = False
) -> PipelineRegistry:
    """The built-in pipelines: ``command`` (running the ``commands`` declared in a commands
    file or catalog, default: the shipped ones, and raw argv if allowed) and ``pgs``."""
    registry = PipelineRegistry()

    def command() -> Pipeline[Any]:
        from vatti.pipelines.command import CommandPipeline
        from vatti.pipelines.command_file import read_commands

        if commands is None or isinstance(commands, Path):
            return CommandPipeline(read_commands(commands), allow_raw_argv=allow_raw_argv)
        return CommandPipeline(commands, allow_raw_argv=allow_raw_argv)

    registry.register("command", command)

    def pgs() -> Pipeline[Any]:
        from vatti.pipelines.pgs.pipeline import PgsPipeline

        return PgsPipeline()

    registry.register("pgs", pgs)
    return registry


def settings_registry(settings: Settings) -> PipelineRegistry:
    """The built-in pipelines as the settings configure them (the commands file, raw argv)."""
    commands = settings.commands
    if commands is None:
        return default_registry()
    return default_registry(commands.commands_file, allow_raw_argv=commands.allow_raw_argv)
