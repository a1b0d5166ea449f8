"""The configuration contract: durations, tokens, and how problems are reported."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vatti.config import (
    COMPONENTS,
    ApiSettings,
    EngineSettings,
    Settings,
    parse_duration,
    variables,
)
from vatti.domain.scopes import format_scopes
from vatti.errors import ConfigError
from vatti.secretbox import new_key

pytestmark = pytest.mark.unit

DIGEST = hashlib.sha256(b"token-one").hexdigest()
OTHER = hashlib.sha256(b"token-two").hexdigest()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        (" 15m ", 900.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "5 minutes", "-5s", "1e3", "5w", "1h30m"])
def test_parse_duration_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_duration_leaves_numbers_alone() -> None:
    assert parse_duration(2.5) == 2.5
    assert parse_duration(None) is None


def test_durations_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_RESULTS_TTL", "2d")
    monkeypatch.setenv("VATTI_JOB_WALL_TIME", "90m")

    engine = EngineSettings.from_environment()

    assert engine.results_ttl == 2 * 86400
    assert engine.job_wall_time == 5400
    assert engine.queue_timeout is None


def test_zero_duration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_POLL_INTERVAL", "0s")

    with pytest.raises(ConfigError) as info:
        Settings.for_component("engine")

    assert "VATTI_POLL_INTERVAL" in info.value.message


def test_token_scopes_and_tenants(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_API_TOKENS", f" {DIGEST.upper()}:submit, read ;lab-b@{OTHER};")

    tokens = ApiSettings.from_environment().configured_tokens()

    assert {d: (t.tenant, format_scopes(t.scopes)) for d, t in tokens.items()} == {
        DIGEST: ("default", "read,submit"),
        OTHER: ("lab-b", "read"),
    }


def test_narrowed_scopes_in_configured_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_API_TOKENS", f"{DIGEST}:submit:command:hello,read")

    (token,) = ApiSettings.from_environment().configured_tokens().values()

    assert token.caller().may_submit("command", "hello")
    assert not token.caller().may_submit("command", "noop")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not-a-digest:read", "SHA256HEX"),
        (f"{DIGEST[:-1]}:read", "SHA256HEX"),
        (f"{DIGEST}:read,root", "root"),
        (f"{DIGEST}:submit;zz:read", "SHA256HEX"),
        (f"{DIGEST}:read:pgs", "can be narrowed"),
        (f"bad tenant!@{DIGEST}:read", "invalid tenant"),
    ],
)
def test_bad_tokens_are_reported_without_their_value(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("VATTI_API_TOKENS", value)

    with pytest.raises(ConfigError) as info:
        Settings.for_component("api")

    text = info.value.message
    assert "VATTI_API_TOKENS" in text
    assert message in text
    assert DIGEST[:16] not in text


def test_every_problem_is_reported_on_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_PORT", "x")
    monkeypatch.setenv("VATTI_LOG_LEVEL", "loud")
    monkeypatch.setenv("VATTI_WEBHOOK_URL", "https://example.org/hook")

    with pytest.raises(ConfigError) as info:
        Settings.for_components("api", "engine")

    lines = info.value.message.splitlines()[1:]
    named = sorted(line.split(":")[0] for line in lines)
    assert named == [
        "VATTI_LOG_LEVEL",
        "VATTI_PORT",
        "VATTI_WEBHOOK_SECRET",
    ]
    assert info.value.exit_code == 78


def test_an_invalid_token_list_is_not_also_reported_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VATTI_API_TOKENS", "nonsense")

    with pytest.raises(ConfigError) as info:
        Settings.for_component("api")

    lines = info.value.message.splitlines()[1:]
    assert len(lines) == 1
    assert lines[0].startswith("VATTI_API_TOKENS:")


def test_auth_none_needs_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_AUTH", "none")

    settings = Settings.for_component("api")

    assert settings.api is not None
    assert settings.api.configured_tokens() == {}


def test_defaults_resolve_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VATTI_DATA_DIR", str(tmp_path))

    settings = Settings.for_component("cli")

    assert settings.database_url() is None
    assert settings.object_store_url() == (settings.data_dir / "objects").as_uri()
    assert settings.results_store_url() == settings.object_store_url()
    assert settings.scratch_dir() == settings.data_dir / "scratch"
    assert settings.pgs_catalog_dir() == settings.data_dir / "pgs-catalog"


def test_the_contract_marks_secrets_and_requirements() -> None:
    listed = {v.name: v for c in COMPONENTS.values() for g in c.groups for v in variables(g)}

    secrets = {name for name, v in listed.items() if v.secret}
    assert secrets == {
        "VATTI_DATABASE_URL",
        "VATTI_API_TOKENS",
        "VATTI_WEBHOOK_SECRET",
        "VATTI_CELERY_BROKER_URL",
        "VATTI_CELERY_STATE_URL",
        "VATTI_CELERY_SECRETS_KEY",
        "VATTI_TLS_KEY_PASSWORD",
        "VATTI_SECRET_KEY",
        "VATTI_S3_SECRET_ACCESS_KEY",
        "VATTI_S3_SESSION_TOKEN",
        "VATTI_GCS_SERVICE_ACCOUNT_KEY",
        "VATTI_TRANSFER_CLIENT_SECRET",
        "VATTI_KEY_HANDLER_PASSWORD",
        "VATTI_KEY_HANDLER_KEY_PASSWORD",
        "VATTI_C4GH_PASSPHRASE",
        "VATTI_KAFKA_SASL_PASSWORD",
        "VATTI_OIDC_CLIENT_SECRET",
    }
    assert listed["VATTI_KAFKA_SASL_PASSWORD"].required == "when KAFKA_SASL_USERNAME is set"
    assert listed["VATTI_SECRET_KEY"].required == "when DATABASE_URL is a PostgreSQL URL"
    assert listed["VATTI_S3_SECRET_ACCESS_KEY"].required == "when S3_ACCESS_KEY_ID is set"
    assert listed["VATTI_TRANSFER_CLIENT_SECRET"].required == "when TRANSFER_TOKEN_URL is set"
    assert listed["VATTI_API_TOKENS"].required == "no"  # tokens may live in the database
    assert listed["VATTI_CELERY_BROKER_URL"].required != "no"
    assert listed["VATTI_WEBHOOK_SECRET"].required != "no"
    assert listed["VATTI_PORT"].default == "8000"
    assert all(v.description for v in listed.values())


def test_unknown_component() -> None:
    with pytest.raises(ConfigError, match="unknown component"):
        Settings.for_component("nope")


def test_a_bad_service_key_is_named_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_SECRET_KEY", "not-really-a-key-1234")
    with pytest.raises(ConfigError) as info:
        Settings.for_component("engine")
    assert "VATTI_SECRET_KEY" in info.value.message
    assert "not-really-a-key-1234" not in info.value.message


def test_a_shared_postgresql_database_needs_a_configured_service_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VATTI_DATABASE_URL", "postgresql://u@db/vatti")
    with pytest.raises(ConfigError) as info:
        Settings.for_component("engine")
    assert "VATTI_SECRET_KEY: required when VATTI_DATABASE_URL is a PostgreSQL URL" in (
        info.value.message
    )
    monkeypatch.setenv("VATTI_SECRET_KEY", f"{new_key()}, {new_key()}")
    keys = Settings.for_component("engine").store.secret_keys()
    assert keys is not None
    assert len(keys) == 2


def test_store_settings_problems_name_each_variable_and_hide_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VATTI_RESULTS_STORE_URL", "ftp://elsewhere/x")
    monkeypatch.setenv("VATTI_S3_ENDPOINT", "http://127.0.0.1:9000/some/path")
    monkeypatch.setenv("VATTI_S3_SECRET_ACCESS_KEY", "wJalrXUtnFEMI")  # but no key id

    with pytest.raises(ConfigError) as info:
        Settings.for_component("runtime")

    lines = info.value.message.splitlines()[1:]
    assert sorted(line.split(":")[0] for line in lines) == [
        "VATTI_RESULTS_STORE_URL",
        "VATTI_S3_ENDPOINT",
        "VATTI_S3_SECRET_ACCESS_KEY",
    ]
    assert "wJalrXUtnFEMI" not in info.value.message


def test_the_results_store_may_be_another_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_OBJECT_STORE_URL", "s3://vatti-work/prod")
    monkeypatch.setenv("VATTI_RESULTS_STORE_URL", "s3://vatti-results/prod")
    settings = Settings.for_component("runtime")
    assert settings.object_store_url() == "s3://vatti-work/prod"
    assert settings.results_store_url() == "s3://vatti-results/prod"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"VATTI_TRANSFER_BASE_URL": "http://127.0.0.1:9/c/"}, "must be https://"),
        (
            {"VATTI_TRANSFER_BASE_URL": "http://10.0.0.1/c/", "VATTI_ALLOW_HTTP_LOOPBACK": "1"},
            "VATTI_TRANSFER_BASE_URL: must be https://",
        ),
        ({"VATTI_KEY_HANDLER_URL": "https://keys.example"}, "VATTI_KEY_HANDLER_USER: required"),
        (
            {"VATTI_TRANSFER_TOKEN_URL": "https://auth.example/t"},
            "VATTI_TRANSFER_CLIENT_SECRET: required when VATTI_TRANSFER_TOKEN_URL is set",
        ),
    ],
)
def test_sources_are_https_only_unless_loopback_is_allowed(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], problem: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=problem):
        Settings.for_component("runtime")


def test_http_on_a_loopback_host_is_accepted_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_TRANSFER_BASE_URL", "http://127.0.0.1:9/c/")
    monkeypatch.setenv("VATTI_ALLOW_HTTP_LOOPBACK", "1")
    sources = Settings.for_component("runtime").sources
    assert sources is not None
    assert sources.transfer_base_url == "http://127.0.0.1:9/c/"
