"""The ``command`` pipeline: run a command the operator declared (or, where the operator allows
it, a raw argv) in the work area and collect its outputs.

A request names a declared command and gives its ``args``
(``{"command": "hello", "args": {"name": "Ada"}}``); they are validated against the command's
parameters at submission, and the runtime builds the argv from the command's template
(:mod:`vatti.pipelines.command_catalog`). A raw ``argv`` (with ``env`` and ``outputs``) is
refused unless ``VATTI_ALLOW_RAW_ARGV`` is true.

The command gets a clean environment (``PATH``, ``HOME`` and ``TMPDIR`` inside the work area, the
locale, ``VATTI_JOB_ID``, ``VATTI_CPUS``, plus the command's ``env``): nothing of the service's
own settings, so no secret of the service leaks into user code. It runs through the job's
sandbox: under the job's own uid when the service runs as root (:mod:`vatti.isolation.sandbox`).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    JsonValue,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from vatti.domain.inputs import DeclaredInput
from vatti.domain.requests import Resources
from vatti.isolation.sandbox import Sandbox
from vatti.pipelines.base import PipelineOutcome, RunContext
from vatti.pipelines.command_catalog import Command, CommandCatalog, CommandName, EnvName
from vatti.pipelines.errors import StepFailed
from vatti.pipelines.paths import RelativePath

_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
#: what a refused raw argv is told (the setting's name is the operator's switch)
RAW_ARGV_REFUSED = (
    "a raw argv is refused: name a declared command (params.command, with its params.args); "
    "an operator may allow raw argv with VATTI_ALLOW_RAW_ARGV=true"
)


class CommandParams(BaseModel):
    """Params of the ``command`` pipeline: a declared ``command`` and its ``args``, or (where
    the operator allows it) a raw ``argv`` with its ``env`` and ``outputs``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    #: the declared commands and whether a raw argv is accepted (set per pipeline)
    catalog: ClassVar[CommandCatalog] = CommandCatalog()
    allow_raw_argv: ClassVar[bool] = False

    command: CommandName | None = Field(
        None, description="The declared command to run (the operator's commands file)."
    )
    args: dict[str, Any] = Field(
        default_factory=dict,
        validate_default=True,  # an absent args is the command's defaults
        description="The command's parameters, checked by their types.",
    )
    argv: list[Annotated[str, Field(max_length=65536)]] | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="A raw argv instead of a command: refused unless VATTI_ALLOW_RAW_ARGV.",
    )
    env: dict[EnvName, Annotated[str, Field(max_length=65536)]] = Field(
        default_factory=dict, description="With a raw argv: variables of its environment."
    )
    outputs: list[RelativePath] = Field(
        default_factory=list,
        max_length=1000,
        json_schema_extra={"uniqueItems": True},
        description="With a raw argv: the files to collect from the work area.",
    )

    @field_validator("command")
    @classmethod
    def _declared(cls, name: str | None) -> str | None:
        if name is not None and cls.catalog.get(name) is None:
            known = ", ".join(cls.catalog.names()) or "none"
            raise ValueError(f"unknown command {name!r}; declared commands: {known}")
        return name

    @field_validator("args")
    @classmethod
    def _typed(cls, args: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("command")
        declared = cls.catalog.get(name) if isinstance(name, str) else None
        if declared is None:
            return args
        checked: dict[str, Any] = declared.args_model.model_validate(args).model_dump()
        return checked

    @field_validator("argv", "env", "outputs")
    @classmethod
    def _raw_only(cls, value: Any, info: ValidationInfo) -> Any:
        command = info.data.get("command")
        if value and command is not None:
            raise ValueError(f"set by the declared command {command!r}, not by a request")
        if info.field_name == "argv" and value is not None and not cls.allow_raw_argv:
            raise ValueError(RAW_ARGV_REFUSED)
        return value

    @field_validator("outputs")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        # names are normalised by now: "./a.txt" is "a.txt"
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"each output may be listed once (more than once: {', '.join(twice)})")
        return names

    @model_validator(mode="after")
    def _one_kind(self) -> CommandParams:
        if self.command is None and self.argv is None:
            known = ", ".join(self.catalog.names()) or "none"
            raise ValueError(f"name a declared command in params.command (declared: {known})")
        if self.command is None and self.args:
            raise ValueError("args go with a declared command (params.command)")
        return self

    @model_serializer(mode="wrap")
    def _kind_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a job spec holds the command and its args, or the raw argv with its env and outputs
        data: dict[str, Any] = handler(self)
        keep = ("command", "args") if self.command is not None else ("argv", "env", "outputs")
        return {k: v for k, v in data.items() if k in keep}

    @property
    def declared(self) -> Command | None:
        """The declared command these params run (None for a raw argv)."""
        return self.catalog.get(self.command) if self.command is not None else None

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # what is accepted: one variant per declared command (its args' own schema), and the
        # raw argv only where it is allowed
        schema = handler.resolve_ref_schema(handler(core_schema))
        fields = schema.get("properties", {})
        variants: list[JsonValue] = [
            command_schema(name, declared)
            for name, declared in sorted(cls.catalog.commands.items())
        ]
        if cls.allow_raw_argv:
            raw = {k: fields[k] for k in ("argv", "env", "outputs") if k in fields}
            variants.append(
                {
                    "type": "object",
                    "title": "raw argv",
                    "properties": raw,
                    "required": ["argv"],
                    "additionalProperties": False,
                }
            )
        title, description = schema.get("title"), schema.get("description")
        schema.clear()
        schema.update({"title": title, "description": description, "oneOf": variants})
        return schema


def command_schema(name: str, declared: Command) -> dict[str, JsonValue]:
    """The JSON schema of the params that run command ``name``."""
    args: dict[str, JsonValue] = declared.args_model.model_json_schema()
    args["title"] = f"{name} args"
    required = ["command", "args"] if args.get("required") else ["command"]
    out: dict[str, JsonValue] = {
        "type": "object",
        "title": f"command {name}",
        "properties": {"command": {"const": name}, "args": args},
        "required": list[JsonValue](required),
        "additionalProperties": False,
    }
    if declared.description:
        out["description"] = declared.description
    return out


def params_model(catalog: CommandCatalog, allow_raw_argv: bool) -> type[CommandParams]:
    """The params model of a ``command`` pipeline that runs ``catalog`` (and raw argv if
    allowed: else ``command`` is required)."""
    description = CommandParams.model_fields["command"].description
    model = create_model(
        "CommandParams",
        __base__=CommandParams,
        __module__=__name__,
        __doc__=CommandParams.__doc__,
        command=(
            CommandName | None,
            Field(None if allow_raw_argv else ..., description=description),
        ),
    )
    model.catalog, model.allow_raw_argv = catalog, allow_raw_argv
    return model


class CommandPipeline:
    """Runs the commands of ``catalog`` (default: none), and raw argv if ``allow_raw_argv``."""

    name = "command"

    def __init__(
        self, catalog: CommandCatalog | None = None, *, allow_raw_argv: bool = False
    ) -> None:
        self.catalog = catalog if catalog is not None else CommandCatalog()
        self.params_model = params_model(self.catalog, allow_raw_argv)

    def inputs(self, params: CommandParams) -> list[DeclaredInput]:
        """A declared command's inputs (its input parameters and fixed inputs); none for a raw
        argv (it reads what its argv names)."""
        declared = params.declared
        if declared is None:
            return []
        return [
            DeclaredInput(key=name, location=location, from_collection=collection)
            for name, (location, collection) in declared.input_locations(params.args).items()
        ]

    def resources(self, params: CommandParams, requested: Resources) -> Resources:
        """The job's limits: a declared command's, which a request may lower, or raise up to
        the command's maxima (a request for more gets the maxima, as the engine's limits do)."""
        declared = params.declared
        if declared is None:
            return requested
        memory, wall = declared.job_limits(requested.memory_mb, requested.wall_time_s)
        return requested.model_copy(update={"memory_mb": memory, "wall_time_s": wall})

    def run(self, params: CommandParams, ctx: RunContext) -> PipelineOutcome:
        tmp = ctx.work_dir / ".tmp"
        tmp.mkdir(exist_ok=True)
        declared = params.declared
        cpus = declared.limits.cpus if declared is not None else 1
        env = {
            "PATH": os.environ.get("PATH", _DEFAULT_PATH),
            "HOME": str(ctx.work_dir),
            "TMPDIR": str(tmp),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "VATTI_JOB_ID": ctx.job_id,
            "VATTI_CPUS": str(cpus),
        }
        if declared is None:
            argv, outputs = list(params.argv or []), params.outputs
            env.update(params.env)
            ctx.log.info("command.start raw argv0=%s", argv[0])
        else:
            local = {name: str(path) for name, path in ctx.inputs.items()}
            argv, extra = declared.render(
                params.args, local, {"cpus": str(cpus), "job_id": ctx.job_id}
            )
            env.update(extra)
            outputs = declared.outputs
            ctx.log.info("command.start command=%s argv0=%s", params.command, argv[0])
        run_argv(argv, env, ctx.work_dir, ctx.sandbox)
        return PipelineOutcome(outputs=collect_outputs(ctx.work_dir, ctx.output_dir, outputs))


def run_argv(argv: list[str], env: Mapping[str, str], work_dir: Path, sandbox: Sandbox) -> None:
    """Run ``argv`` in ``work_dir`` through the job's sandbox, never through a shell;
    StepFailed unless it exits 0."""
    try:
        returncode = sandbox.run(argv, cwd=work_dir, env=dict(env))
    except OSError as exc:
        raise StepFailed("command", f"cannot start {argv[0]!r}: {exc.strerror}") from exc
    if returncode != 0:
        status, how = exit_status(returncode)
        raise StepFailed("command", f"command {argv[0]!r} {how}", step_exit=status)


def exit_status(returncode: int) -> tuple[int, str]:
    """The shell's status for a child's return code (128 + N for a death by signal N), said.

    >>> exit_status(3), exit_status(-9)
    ((3, 'exited with status 3'), (137, 'was killed by signal SIGKILL (status 137)'))
    """
    if returncode >= 0:
        return returncode, f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    status = 128 - returncode
    return status, f"was killed by signal {name} (status {status})"


def collect_outputs(work_dir: Path, output_dir: Path, names: list[str]) -> list[str]:
    """Copy each declared output from the work area to the output dir; all must exist."""
    missing = [n for n in names if not (work_dir / n).is_file()]
    if missing:
        raise StepFailed(
            "collect-outputs", f"declared outputs were not produced: {', '.join(missing)}"
        )
    root = work_dir.resolve()
    for name in names:
        src = (work_dir / name).resolve()
        if not src.is_relative_to(root):
            raise StepFailed(
                "collect-outputs",
                f"output {name!r} points outside the work area",
                code="output_refused",
            )
        dest = output_dir / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    return list(names)
