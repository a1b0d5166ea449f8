"""Read the operator's commands file (TOML) into a :class:`CommandCatalog`, or say what is wrong.

The file is named by ``VATTI_COMMANDS_FILE``; unset, the commands shipped with vatti
(``commands.toml`` beside this module: ``noop`` and ``hello``) are declared. Every problem is
reported on its own line naming the file, the command and the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from vatti.errors import ConfigError
from vatti.pipelines.command_catalog import CommandCatalog, catalog_from_data

#: the commands declared when no commands file is configured
SHIPPED_COMMANDS = Path(__file__).with_name("commands.toml")
_PARAM_TYPES = {"string", "integer", "boolean", "input"}


def read_commands(path: Path | None) -> CommandCatalog:
    """The commands declared in ``path`` (the shipped ones when None); ConfigError if bad."""
    path = SHIPPED_COMMANDS if path is None else path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the commands file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the commands file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return catalog_from_data(data)
    except ValidationError as exc:
        lines = [problem_line(e["loc"], e["msg"]) for e in exc.errors(include_url=False)]
        raise ConfigError(f"{path}: invalid commands file:\n" + "\n".join(lines)) from None


def problem_line(loc: tuple[int | str, ...], message: str) -> str:
    """One problem of the file: the command, then the field within it.

    >>> problem_line(("commands", "hello", "params", "name", "string", "pattern"), "bad")
    "command 'hello': params.name.pattern: bad"
    >>> problem_line(("commands", "x"), "Value error, argv.0: fixed")
    "command 'x': argv.0: fixed"
    >>> problem_line(("command",), "Extra inputs are not permitted")
    'command: Extra inputs are not permitted'
    """
    message = message.removeprefix("Value error, ")
    parts = ["name" if p == "[key]" else str(p) for p in loc]  # a table's key: a name
    if len(parts) >= 5 and parts[2] == "params" and parts[4] in _PARAM_TYPES:
        del parts[4]  # the union's tag: the parameter's type
    if len(parts) >= 2 and parts[0] == "commands":
        field = ".".join(parts[2:])
        return f"command {parts[1]!r}: {field + ': ' if field else ''}{message}"
    return f"{'.'.join(parts) or 'file'}: {message}"
