"""The operator's commands file: what it declares, and how a bad one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from vatti.errors import ConfigError
from vatti.pipelines.command_file import SHIPPED_COMMANDS, read_commands

pytestmark = pytest.mark.unit

GOOD = """
[commands.count]
description = "Count the lines of a table."
argv = ["wc", "-l", "--", "{table}", "{verbose}", "--label={label}", "--top={top}"]
outputs = ["counts.txt"]
env = {COUNT_CPUS = "{cpus}", COUNT_REF = "{reference}"}
inputs = {reference = "refs/panel.txt"}

[commands.count.params.table]
type = "input"

[commands.count.params.verbose]
type = "boolean"
flag = "--verbose"
default = false

[commands.count.params.label]
type = "string"
choices = ["a", "b"]
default = "a"

[commands.count.params.top]
type = "integer"
min = 1
max = 10
default = 3

[commands.count.limits]
memory_mb = 128
wall_time = "5m"
cpus = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "commands.toml"
    path.write_text(text)
    return path


def test_the_shipped_file_declares_noop_and_hello() -> None:
    catalog = read_commands(None)
    assert catalog.names() == ["hello", "noop"]
    assert read_commands(SHIPPED_COMMANDS) == catalog
    hello = catalog.commands["hello"]
    assert hello.outputs == ["hello.txt"]
    assert hello.args_model.model_validate({}).model_dump() == {"name": "world"}


def test_a_command_renders_its_argv_and_env_from_typed_values(tmp_path: Path) -> None:
    count = read_commands(write(tmp_path, GOOD)).commands["count"]
    args = count.args_model.model_validate({"table": "t/x y.tsv", "verbose": True}).model_dump()
    local = {"table": "/scratch/inputs/x y.tsv", "reference": "/scratch/inputs/panel.txt"}
    argv, env = count.render(args, local, {"cpus": "2", "job_id": "j1"})
    assert argv == [
        "wc",
        "-l",
        "--",
        "/scratch/inputs/x y.tsv",
        "--verbose",
        "--label=a",
        "--top=3",
    ]
    assert env == {"COUNT_CPUS": "2", "COUNT_REF": "/scratch/inputs/panel.txt"}
    args["verbose"] = False
    assert "--verbose" not in count.render(args, local, {"cpus": "2", "job_id": "j1"})[0]
    assert count.input_locations(args) == {
        "reference": ("refs/panel.txt", False),
        "table": ("t/x y.tsv", False),
    }


def test_a_value_is_one_argv_element_whatever_it_holds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[commands.echo]\nargv = ["echo", "{text}"]\n[commands.echo.params]\n'
        'text = {type = "string"}\n',
    )
    echo = read_commands(path).commands["echo"]
    text = "a; rm -rf / $(id) `id` {other} 'q'"
    argv, _ = echo.render({"text": text}, {}, {"cpus": "1", "job_id": "j"})
    assert argv == ["echo", text]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "table"),  # required: no default
        ({"table": "../x"}, "table"),
        ({"table": "/etc/passwd"}, "table"),
        ({"table": "x", "top": 11}, "top"),
        ({"table": "x", "top": "3"}, "top"),  # strict: no coercion
        ({"table": "x", "verbose": 1}, "verbose"),
        ({"table": "x", "label": "c"}, "label"),
        ({"table": "x", "other": 1}, "other"),
    ],
)
def test_args_are_checked_by_their_types(
    tmp_path: Path, args: dict[str, object], field: str
) -> None:
    from pydantic import ValidationError

    count = read_commands(write(tmp_path, GOOD)).commands["count"]
    with pytest.raises(ValidationError) as info:
        count.args_model.model_validate(args)
    assert [e["loc"][0] for e in info.value.errors()] == [field]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            '[commands.x]\nargv = ["{prog}"]\n[commands.x.params]\nprog = {type = "string"}\n',
            "command 'x': argv.0: the program is fixed",
        ),
        (
            '[commands.x]\nargv = ["echo", "{nme}"]\n',
            "command 'x': argv.1: placeholder {nme} names no parameter",
        ),
        (
            '[commands.x]\nargv = ["echo"]\n[commands.x.params]\nname = {type = "string"}\n',
            "command 'x': name: declared but used in neither argv nor env",
        ),
        (
            '[commands.x]\nargv = ["echo", "{n}"]\n[commands.x.params.n]\ntype = "string"\n'
            'pattern = "("\n',
            "command 'x': params.n.pattern: not a regular expression",
        ),
        (
            '[commands.x]\nargv = ["echo", "{n}"]\n[commands.x.params.n]\ntype = "integer"\n'
            "min = 5\nmax = 1\n",
            "command 'x': params.n: min (5) is greater than max (1)",
        ),
        (
            '[commands.x]\nargv = ["echo", "{n}"]\n[commands.x.params.n]\ntype = "float"\n',
            "command 'x': params.n: Input tag 'float' found using 'type' does not match",
        ),
        (
            '[commands.x]\nargv = ["echo", "-v={v}"]\n[commands.x.params.v]\ntype = "boolean"\n'
            'flag = "-v"\n',
            "command 'x': argv.1: {v} may be unset or a flag",
        ),
        ('[commands.x]\nargv = ["echo", "{n!r}"]\n', "command 'x': argv.1: only {name}"),
        ('[commands.x]\nargv = ["echo", "{"]\n', "command 'x': argv.1: Single '{'"),
        (
            '[commands.x]\nargv = ["true"]\nlimits = {memory_mb = 512}\nmax_limits = '
            "{memory_mb = 256}\n",
            "command 'x': limits.memory_mb (512) is above max_limits",
        ),
        (
            '[commands.x]\nargv = ["true"]\nlimits = {wall_time = "soon"}\n',
            "command 'x': limits.wall_time: expected a duration",
        ),
        ('[commands.x]\nargv = ["true"]\noutputs = ["../x"]\n', "command 'x': outputs.0: must be"),
        ('[commands.x]\nargv = ["true"]\nmemory = 1\n', "command 'x': memory: Extra inputs"),
        ('[commands.X]\nargv = ["true"]\n', "command 'X': name: String should match pattern"),
        ("[commands.x]\nargv = []\n", "command 'x': argv: List should have at least 1 item"),
        ("[commands.x\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_command_and_field(
    tmp_path: Path, text: str, says: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        read_commands(path)
    assert info.value.message.startswith(f"{path}: ")
    assert says in info.value.message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the commands file"):
        read_commands(tmp_path / "nope.toml")
