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
