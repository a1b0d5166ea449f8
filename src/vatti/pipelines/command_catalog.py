"""The commands an operator declares for the ``command`` pipeline, as pure domain models.

A command has a name, an argv template, typed parameters, the inputs and outputs it declares,
its environment and its limits. A template element holds ``{name}`` placeholders of its
parameters, fixed inputs and built-ins (``{cpus}``, ``{job_id}``); ``{{`` and ``}}`` are literal
braces. Values replace placeholders inside argv elements, never through a shell: an element that
is exactly one placeholder becomes the value whole (or disappears, for an unset optional
parameter or a false flag), any other element is the concatenation of its literal parts and
values. The program (``argv[0]``) is the operator's alone: it holds no placeholder.

:func:`catalog_from_data` validates a decoded commands file (:mod:`vatti.pipelines.command_file`
reads it); :meth:`Command.args_model` validates a request's ``args``; :meth:`Command.render`
builds the argv and environment of a job from validated args and the local paths of its staged
inputs.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    create_model,
    field_validator,
    model_validator,
)

from vatti.domain.requests import MAX_WALL_TIME_S, integral
from vatti.pipelines.paths import RelativePath, safe_relative_path

COMMAND_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
CommandName = Annotated[str, Field(pattern=COMMAND_NAME_PATTERN)]
PARAM_NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,63}$"
ParamName = Annotated[str, Field(pattern=PARAM_NAME_PATTERN)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
#: the placeholders every template may use besides its command's parameters and inputs
BUILTINS = frozenset({"cpus", "job_id"})
MAX_STRING = 4096


def _seconds(value: object) -> object:
    """A duration (``90``, ``"90s"``, ``"15m"``, ``"2h"``) as whole seconds."""
    from vatti.config import parse_duration

    seconds = parse_duration(value)
    if isinstance(seconds, float):
        if not seconds.is_integer():
            raise ValueError("expected whole seconds")
        return int(seconds)
    return seconds


Duration = Annotated[int, BeforeValidator(_seconds), Field(ge=1, le=MAX_WALL_TIME_S)]


class _Decl(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Param(_Decl):
    description: str = ""
    #: whether a request must give it (default: when it has no default)
    required: bool | None = None

    @property
    def can_be_unset(self) -> bool:
        return self.required is False and getattr(self, "default", None) is None

    def annotation(self) -> Any:
        raise NotImplementedError


class StringParam(_Param):
    type: Literal["string"]
    default: StrictStr | None = None
    pattern: str | None = Field(None, description="A regular expression the whole value matches.")
    choices: list[StrictStr] | None = Field(None, min_length=1)
    max_length: int = Field(MAX_STRING, ge=1, le=65536)

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _default_fits(self) -> StringParam:
        if self.pattern is not None and self.choices is not None:
            raise ValueError("give pattern or choices, not both")
        if self.default is not None:
            _check_string(self, self.default)
        return self

    def annotation(self) -> Any:
        if self.choices is not None:
            return Literal[tuple(self.choices)]
        return Annotated[
            str,
            Field(max_length=self.max_length, json_schema_extra=_pattern_schema(self.pattern)),
            AfterValidator(lambda v: _check_string(self, v)),
        ]


def _pattern_schema(pattern: str | None) -> dict[str, Any] | None:
    return None if pattern is None else {"pattern": f"^(?:{pattern})$"}


def _check_string(param: StringParam, value: str) -> str:
    if param.choices is not None and value not in param.choices:
        raise ValueError(f"must be one of {', '.join(map(repr, param.choices))}")
    if len(value) > param.max_length:
        raise ValueError(f"must be at most {param.max_length} characters")
    if param.pattern is not None and re.fullmatch(param.pattern, value) is None:
        raise ValueError(f"must match the pattern {param.pattern!r}")
    return value


class IntegerParam(_Param):
    type: Literal["integer"]
    default: StrictInt | None = None
    min: StrictInt | None = None
    max: StrictInt | None = None

    @model_validator(mode="after")
    def _bounds(self) -> IntegerParam:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.default is not None and not (
            (self.min is None or self.default >= self.min)
            and (self.max is None or self.default <= self.max)
        ):
            raise ValueError(f"the default {self.default} lies outside min..max")
        return self

    def annotation(self) -> Any:
        return Annotated[int, BeforeValidator(integral), Field(ge=self.min, le=self.max)]


class BooleanParam(_Param):
    type: Literal["boolean"]
    default: StrictBool | None = None
    flag: str | None = Field(
        None,
        min_length=1,
        description="The argv element a true value stands for (e.g. --verbose); a false one "
        "removes the element. Without it the value is 'true' or 'false'.",
    )

    def annotation(self) -> Any:
        return bool


class InputParam(_Param):
    """A file the job reads: the request gives its location, the runtime stages it into the
    job's scratch and the placeholder stands for the local path."""

    type: Literal["input"]
    collection: bool = Field(
        False,
        description="The location is a path on the transfer collection (else: a path under the "
        "runtime's input root, or an https:// URL under the collection).",
    )

    def annotation(self) -> Any:
        return Annotated[str, AfterValidator(lambda v: _location(v, self.collection))]


def _location(value: str, collection: bool) -> str:
    if not collection and value.startswith("https://"):
        return value
    return safe_relative_path(value)


Param = Annotated[
    StringParam | IntegerParam | BooleanParam | InputParam, Field(discriminator="type")
]


class Limits(_Decl):
    """A command's limits; a request may lower memory and wall time down from them."""

    memory_mb: int | None = Field(None, ge=16, le=1_048_576)
    wall_time: Duration | None = None
    cpus: int = Field(1, ge=1, le=1024)


class MaxLimits(_Decl):
    """The most a request may ask for (default: the command's limits)."""

    memory_mb: int | None = Field(None, ge=16, le=1_048_576)
    wall_time: Duration | None = None


class Command(_Decl):
    """One declared command."""

    description: str = ""
    argv: list[str] = Field(min_length=1, max_length=4096)
    params: dict[ParamName, Param] = Field(default_factory=dict)
    inputs: dict[ParamName, RelativePath] = Field(
        default_factory=dict,
        description="Fixed inputs (paths under the runtime's input root) every job of the "
        "command reads; each is a placeholder for its local path.",
    )
    outputs: list[RelativePath] = Field(default_factory=list, max_length=1000)
    env: dict[EnvName, str] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    max_limits: MaxLimits | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Command:
        clash = sorted(set(self.params) & set(self.inputs))
        if clash:
            raise ValueError(f"{', '.join(clash)}: both a parameter and an input")
        builtin = sorted((set(self.params) | set(self.inputs)) & BUILTINS)
        if builtin:
            raise ValueError(f"{', '.join(builtin)}: reserved for the built-in placeholders")
        twice = sorted({n for n in self.outputs if self.outputs.count(n) > 1})
        if twice:
            raise ValueError(f"outputs: listed more than once: {', '.join(twice)}")
        known = set(self.params) | set(self.inputs) | BUILTINS
        used: set[str] = set()
        whole_only = {
            n
            for n, p in self.params.items()
            if p.can_be_unset or (isinstance(p, BooleanParam) and p.flag is not None)
        }
        for where, element in self._templates():
            parts = parse_template(element, where)
            names = [p for p in parts if isinstance(p, Placeholder)]
            for ph in names:
                if ph.name not in known:
                    raise ValueError(
                        f"{where}: placeholder {{{ph.name}}} names no parameter, input or "
                        f"built-in ({', '.join(sorted(BUILTINS))})"
                    )
                if ph.name in whole_only and (len(parts) != 1 or where.startswith("env")):
                    raise ValueError(
                        f"{where}: {{{ph.name}}} may be unset or a flag, so it must be a whole "
                        "argv element"
                    )
            used.update(ph.name for ph in names)
            if where == "argv.0" and names:
                raise ValueError("argv.0: the program is fixed (it holds no placeholder)")
        unused = sorted((set(self.params) | set(self.inputs)) - used)
        if unused:
            raise ValueError(f"{', '.join(unused)}: declared but used in neither argv nor env")
        self._check_max()
        return self

    def _check_max(self) -> None:
        if self.max_limits is None:
            return
        for name in ("memory_mb", "wall_time"):
            default, most = getattr(self.limits, name), getattr(self.max_limits, name)
            if most is not None and default is not None and default > most:
                raise ValueError(f"limits.{name} ({default}) is above max_limits.{name} ({most})")

    def _templates(self) -> list[tuple[str, str]]:
        return [(f"argv.{i}", a) for i, a in enumerate(self.argv)] + [
            (f"env.{k}", v) for k, v in self.env.items()
        ]

    def job_limits(
        self, memory_mb: int | None, wall_time_s: int | None
    ) -> tuple[int | None, int | None]:
        """``(memory_mb, wall_time_s)`` of a job that asked for these (None: not asked): the
        command's limits, lowered by the request, or raised up to the maxima and never beyond.

        >>> c = Command(argv=["true"], limits=Limits(memory_mb=64, wall_time=60),
        ...             max_limits=MaxLimits(memory_mb=256))
        >>> c.job_limits(None, None), c.job_limits(32, 30), c.job_limits(4096, 600)
        ((64, 60), (32, 30), (256, 60))
        """
        most = self.max_limits or MaxLimits()
        return (
            _bounded(memory_mb, self.limits.memory_mb, most.memory_mb),
            _bounded(wall_time_s, self.limits.wall_time, most.wall_time),
        )

    @cached_property
    def args_model(self) -> type[BaseModel]:
        """The model of a request's ``args`` for this command (strict, no unknown names)."""
        fields: dict[str, Any] = {}
        for name, param in self.params.items():
            default = getattr(param, "default", None)
            required = param.required if param.required is not None else default is None
            annotation = param.annotation()
            if required:
                fields[name] = (annotation, Field(description=param.description or None))
            else:
                fields[name] = (
                    annotation | None if default is None else annotation,
                    Field(default, description=param.description or None),
                )
        model: type[BaseModel] = create_model(
            "CommandArgs",
            __config__=ConfigDict(extra="forbid", strict=True),
            **fields,
        )
        return model

    def input_locations(self, args: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
        """Each input the job reads by name: ``(location, on the collection)``."""
        out = {name: (path, False) for name, path in self.inputs.items()}
        for name, param in self.params.items():
            value = args.get(name)
            if isinstance(param, InputParam) and isinstance(value, str):
                out[name] = (value, param.collection)
        return out

    def render(
        self, args: Mapping[str, Any], inputs: Mapping[str, str], builtins: Mapping[str, str]
    ) -> tuple[list[str], dict[str, str]]:
        """The argv and environment of a job: ``args`` validated by :attr:`args_model`,
        ``inputs`` the local paths of the staged inputs by name."""

        def value(name: str) -> str | None:
            if name in builtins:
                return builtins[name]
            if name in self.inputs:
                return inputs[name]
            param, given = self.params[name], args.get(name)
            if given is None:
                return None
            if isinstance(param, InputParam):
                return inputs[name]
            if isinstance(param, BooleanParam):
                if param.flag is not None:
                    return param.flag if given else None
                return "true" if given else "false"
            return str(given)

        argv = [
            rendered
            for i, element in enumerate(self.argv)
            if (rendered := render_template(element, value, f"argv.{i}")) is not None
        ]
        env = {}
        for key, element in self.env.items():
            rendered = render_template(element, value, f"env.{key}")
            env[key] = "" if rendered is None else rendered
        return argv, env


def _bounded(asked: int | None, default: int | None, most: int | None) -> int | None:
    ceiling = most if most is not None else default
    if asked is None:
        return default
    return asked if ceiling is None else min(asked, ceiling)


@dataclass(frozen=True)
class Placeholder:
    name: str


def parse_template(element: str, where: str = "argv") -> list[str | Placeholder]:
    """The literal parts and placeholders of one template element (ValueError when it holds
    anything but ``{name}`` placeholders and ``{{``/``}}``).

    >>> parse_template("--out={name}.txt")
    ['--out=', Placeholder(name='name'), '.txt']
    >>> parse_template("{{literal}}")
    ['{literal}']
    >>> parse_template("{a!r}")
    Traceback (most recent call last):
    ...
    ValueError: argv: only {name} placeholders are allowed (got '{a!r}')
    """
    parts: list[str | Placeholder] = []
    try:
        parsed = list(string.Formatter().parse(element))
    except ValueError as exc:
        braces = "write {{ and }} for braces"
        raise ValueError(f"{where}: {exc} in {element!r} ({braces})") from None
    for literal, name, spec, conversion in parsed:
        if literal and parts and isinstance(parts[-1], str):
            parts[-1] += literal
        elif literal:
            parts.append(literal)
        if name is None:
            continue
        if spec or conversion or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"{where}: only {{name}} placeholders are allowed (got {element!r})")
        parts.append(Placeholder(name))
    return parts


def render_template(
    element: str, value: Callable[[str], str | None], where: str = "argv"
) -> str | None:
    """The element with each placeholder replaced by ``value(name)``; None when the element is
    one placeholder whose value is None (an unset optional parameter: the element goes).

    >>> render_template("--name={n}", {"n": "x y"}.get)
    '--name=x y'
    >>> render_template("{n}", {}.get) is None
    True
    """
    parts = parse_template(element, where)
    if len(parts) == 1 and isinstance(parts[0], Placeholder):
        return value(parts[0].name)
    out = []
    for part in parts:
        if isinstance(part, Placeholder):
            got = value(part.name)
            if got is None:  # refused at load for parameters that can be unset
                raise ValueError(f"{where}: {{{part.name}}} has no value")
            out.append(got)
        else:
            out.append(part)
    return "".join(out)


class CommandCatalog(_Decl):
    """The declared commands by name."""

    commands: dict[CommandName, Command] = Field(default_factory=dict)

    def names(self) -> list[str]:
        return sorted(self.commands)

    def get(self, name: str) -> Command | None:
        return self.commands.get(name)


def catalog_from_data(data: Mapping[str, Any]) -> CommandCatalog:
    """The catalog of a decoded commands file (pydantic's ValidationError when it is bad)."""
    return CommandCatalog.model_validate(dict(data))
