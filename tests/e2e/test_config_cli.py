"""``vatti config``: the contract as a table (never a secret); ``config check``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tests.e2e.conftest import clean_env, vatti

from vatti.config import COMPONENTS, variables

pytestmark = pytest.mark.e2e

EX_CONFIG = 78


def test_config_lists_every_variable_and_no_secret(tmp_path: Path) -> None:
    env = clean_env(
        VATTI_WEBHOOK_SECRET="s3cr3t",
        VATTI_DATABASE_URL="postgresql://u:pw@h/db",
        COLUMNS="300",
    )

    result = vatti("config", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    text = result.stdout
    for name, component in COMPONENTS.items():
        assert f"{name}: {component.purpose}" in text
        for group in component.groups:
            for var in variables(group):
                assert var.name in text
    for column in ("variable", "default", "required", "description"):
        assert column in text
    assert "s3cr3t" not in text + result.stderr
    assert "pw@" not in text + result.stderr
    assert "u:pw" not in text + result.stderr


def test_config_check_reports_every_problem(tmp_path: Path) -> None:
    env = clean_env(VATTI_PORT="x")

    result = vatti("config", "check", "--component", "api", cwd=tmp_path, env=env)

    assert result.returncode == EX_CONFIG
    lines = [line for line in result.stderr.splitlines() if line.startswith("VATTI_")]
    assert [line.split(":")[0] for line in lines] == ["VATTI_PORT"]


BAD_COMMANDS = """
[commands.count]
argv = ["wc", "-l", "--top={top}"]
[commands.count.params.top]
type = "integer"
min = 5
max = 1

[commands.shout]
argv = ["echo", "{tetx}"]
"""


@pytest.mark.parametrize("component", ["api", "runtime"])
def test_a_bad_commands_file_is_refused_naming_file_command_and_field(
    tmp_path: Path, component: str
) -> None:
    path = tmp_path / "commands.toml"
    path.write_text(BAD_COMMANDS)
    env = clean_env(VATTI_COMMANDS_FILE=str(path))

    result = vatti("config", "check", "--component", component, cwd=tmp_path, env=env)

    assert result.returncode == EX_CONFIG
    assert f"VATTI_COMMANDS_FILE: {path}: invalid commands file:" in result.stderr
    assert "command 'count': params.top: min (5) is greater than max (1)" in result.stderr
    assert "command 'shout': argv.1: placeholder {tetx} names no parameter" in result.stderr


def test_serve_refuses_to_start_on_a_bad_commands_file(tmp_path: Path) -> None:
    path = tmp_path / "commands.toml"
    path.write_text(BAD_COMMANDS)
    env = clean_env(VATTI_COMMANDS_FILE=str(path), VATTI_DATA_DIR=str(tmp_path / "data"))

    result = vatti("serve", "--port", "0", cwd=tmp_path, env=env)

    assert result.returncode == EX_CONFIG
    assert "command 'count': params.top" in result.stderr


def test_config_shows_the_commands_settings_under_the_components_that_read_them(
    tmp_path: Path,
) -> None:
    shown = vatti("config", "--markdown", cwd=tmp_path, env=clean_env())
    assert shown.returncode == 0, shown.stderr
    sections = shown.stdout.split("\n**")[1:]  # one per component: "name**: purpose ..."
    tables = {section.partition("**")[0]: section for section in sections}
    assert set(tables) == set(COMPONENTS)
    for component, table in tables.items():
        reads = component in {"api", "engine", "runtime", "cli"}
        assert ("| `VATTI_COMMANDS_FILE` |" in table) is reads, component
        assert ("| `VATTI_ALLOW_RAW_ARGV` |" in table) is reads, component


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_config_check_refuses_no_auth_off_loopback_as_serve_does(tmp_path: Path, host: str) -> None:
    env = clean_env(VATTI_AUTH="none", VATTI_HOST=host)

    result = vatti("config", "check", "--component", "api", cwd=tmp_path, env=env)

    assert result.returncode == EX_CONFIG
    assert "loopback" in result.stderr
    assert "OK" not in result.stdout


def test_config_check_accepts_no_auth_on_loopback(tmp_path: Path) -> None:
    env = clean_env(VATTI_AUTH="none", VATTI_HOST="127.0.0.1")

    result = vatti("config", "check", "--component", "api", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert "api: configuration OK" in result.stdout


def test_config_check_runtime_passes_on_defaults(tmp_path: Path) -> None:
    result = vatti("config", "check", "--component", "runtime", cwd=tmp_path, env=clean_env())

    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "commands: hello, noop (from the shipped commands.toml)" in result.stdout
    assert "raw argv" not in result.stdout


def test_config_check_says_which_commands_run(tmp_path: Path) -> None:
    path = tmp_path / "commands.toml"
    path.write_text('[commands.align]\nargv = ["true"]\n')
    env = clean_env(VATTI_COMMANDS_FILE=str(path), VATTI_ALLOW_RAW_ARGV="true")

    result = vatti("config", "check", "--component", "api", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert f"commands: align (from {path})" in result.stdout
    assert "raw argv: allowed" in result.stdout


@pytest.mark.parametrize(
    ("component", "env"),
    [("engine", {"VATTI_EXECUTOR": "celery"}), ("worker", {})],
)
def test_config_check_names_what_the_celery_executor_and_its_workers_miss(
    tmp_path: Path, component: str, env: dict[str, str]
) -> None:
    rabbit = {"VATTI_CELERY_BROKER_URL": "amqp://guest:hunter2@127.0.0.1:5672//"}

    result = vatti("config", "check", "-c", component, cwd=tmp_path, env=clean_env(**env, **rabbit))

    assert result.returncode == EX_CONFIG
    named = [line.split(":")[0] for line in result.stderr.splitlines() if line.startswith("VATTI_")]
    assert named == ["VATTI_CELERY_STATE_URL", "VATTI_CELERY_SECRETS_KEY"]
    assert "hunter2" not in result.stderr + result.stdout


def test_config_shows_the_celery_queues_and_worker_slots_under_who_reads_them(
    tmp_path: Path,
) -> None:
    def listed(component: str) -> str:
        result = vatti("config", "-c", component, "--markdown", cwd=tmp_path, env=clean_env())
        assert result.returncode == 0, result.stderr
        return result.stdout

    engine, worker = listed("engine"), listed("worker")
    for name in ("VATTI_CELERY_QUEUES", "VATTI_CELERY_DEFAULT_QUEUE", "VATTI_CELERY_BROKER_URL"):
        assert f"`{name}`" in engine
        assert f"`{name}`" in worker
    assert "`VATTI_MAX_CONCURRENT_JOBS`" in engine
    for name in ("VATTI_CELERY_CONCURRENCY", "VATTI_CELERY_POOL"):
        assert f"`{name}`" in worker
        assert f"`{name}`" not in engine


def test_config_check_unknown_component(tmp_path: Path) -> None:
    result = vatti("config", "check", "--component", "nope", cwd=tmp_path, env=clean_env())

    assert result.returncode == 2
    assert "api" in result.stderr


def test_token_prints_a_token_and_its_hash_entry(tmp_path: Path) -> None:
    result = vatti("token", "--scopes", "read", cwd=tmp_path, env=clean_env())

    assert result.returncode == 0, result.stderr
    token = result.stdout.split("):", 1)[1].split()[0]
    entry = result.stdout.split("VATTI_API_TOKENS entry:", 1)[1].split()[0]
    assert entry == f"{hashlib.sha256(token.encode()).hexdigest()}:read"
