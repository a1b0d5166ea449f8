"""What a job's runtime is given (one serializer), and how the runtime reads it back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vatti.config import (
    EngineSettings,
    RuntimeSettings,
    Settings,
    runtime_launch_settings,
)
from vatti.engine.context import EngineConfig
from vatti.errors import ConfigError
from vatti.pipelines.base import JobSettings, PgsCatalogAccess
from vatti.secretbox import new_key

pytestmark = pytest.mark.unit


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.upper().startswith("VATTI_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_the_launch_env_holds_resolved_values_and_never_the_database_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VATTI_DATA_DIR", "data")  # relative: resolved for the job
    monkeypatch.setenv("VATTI_DATABASE_URL", "postgresql://u:hunter2@db/vatti")
    monkeypatch.setenv("VATTI_SECRET_KEY", new_key())
    monkeypatch.setenv("VATTI_PGS_OFFLINE", "true")
    launch = runtime_launch_settings(Settings.for_component("engine"), input_root=None)
    data = tmp_path / "data"
    assert launch.env == {
        "VATTI_DATA_DIR": str(data),
        "VATTI_LOG_LEVEL": "INFO",
        "VATTI_OBJECT_STORE_URL": (data / "objects").as_uri(),
        "VATTI_RESULTS_STORE_URL": (data / "objects").as_uri(),
        "VATTI_S3_REGION": "us-east-1",
        "VATTI_S3_PATH_STYLE": "1",
        "VATTI_SCRATCH_DIR": str(data / "scratch"),
        "VATTI_PGS_CATALOG_DIR": str(data / "pgs-catalog"),
        "VATTI_PGS_CATALOG_URL": "https://www.pgscatalog.org/rest/",
        "VATTI_PGS_OFFLINE": "1",
        "VATTI_JOB_UID_RANGE": "2000000000-2000065535",
        "VATTI_TRANSFER_RETRIES": "5",
        "VATTI_TRANSFER_RETRY_DELAY": "1.0",
        "VATTI_TRANSFER_TIMEOUT": "60.0",
        "VATTI_ALLOW_HTTP_LOOPBACK": "0",
        "VATTI_ALLOW_RAW_ARGV": "0",
    }
    assert launch.secrets == {}
    assert "hunter2" not in repr(launch)


def test_the_job_reads_the_commands_file_the_engine_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("commands.toml").write_text('[commands.one]\nargv = ["true"]\n')
    monkeypatch.setenv("VATTI_COMMANDS_FILE", "commands.toml")  # relative: resolved for the job
    monkeypatch.setenv("VATTI_ALLOW_RAW_ARGV", "true")
    launch = runtime_launch_settings(Settings.for_component("engine"), input_root=None)
    assert launch.env["VATTI_COMMANDS_FILE"] == str(tmp_path / "commands.toml")
    assert launch.env["VATTI_ALLOW_RAW_ARGV"] == "1"
    monkeypatch.chdir(tmp_path.parent)
    set_env(monkeypatch, launch.env)
    commands = Settings.for_component("runtime").commands
    assert commands is not None
    assert commands.commands_file == tmp_path / "commands.toml"
    assert commands.allow_raw_argv


def test_the_given_input_root_wins_over_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VATTI_INPUT_ROOT", str(tmp_path / "configured"))
    settings = Settings.for_component("cli")
    assert runtime_launch_settings(settings, input_root=None).env["VATTI_INPUT_ROOT"] == str(
        tmp_path / "configured"
    )
    given = runtime_launch_settings(settings, input_root=tmp_path / "cwd")
    assert given.env["VATTI_INPUT_ROOT"] == str(tmp_path / "cwd")


def test_secret_settings_a_job_needs_travel_apart_from_its_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The transfer and key-handler credentials go to the secrets, the rest to the env."""
    set_env(
        monkeypatch,
        {
            "VATTI_TRANSFER_BASE_URL": "https://collection.example/",
            "VATTI_TRANSFER_TOKEN_URL": "https://auth.example/token",
            "VATTI_TRANSFER_CLIENT_ID": "runner",
            "VATTI_TRANSFER_CLIENT_SECRET": "hunter2",
            "VATTI_KEY_HANDLER_URL": "https://keys.example",
            "VATTI_KEY_HANDLER_USER": "vatti",
            "VATTI_KEY_HANDLER_PASSWORD": "basic-pw",
            "VATTI_KEY_HANDLER_KEY_PASSWORD": "unwrap-pw",
            "VATTI_C4GH_SECRET_KEY": "keys/job.sec",
        },
    )
    monkeypatch.chdir(tmp_path)
    launch = runtime_launch_settings(Settings.for_component("engine"), input_root=None)
    assert launch.secrets == {
        "VATTI_TRANSFER_CLIENT_SECRET": "hunter2",
        "VATTI_KEY_HANDLER_PASSWORD": "basic-pw",
        "VATTI_KEY_HANDLER_KEY_PASSWORD": "unwrap-pw",
    }
    assert launch.env["VATTI_TRANSFER_CLIENT_ID"] == "runner"
    assert launch.env["VATTI_C4GH_SECRET_KEY"] == str(tmp_path / "keys" / "job.sec")
    for secret in launch.secrets.values():
        assert secret not in "".join(launch.env.values())
        assert secret not in repr(launch)


def test_a_store_secret_a_job_were_allowed_travels_apart_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VATTI_OBJECT_STORE_URL", "s3://work/vatti")
    monkeypatch.setenv("VATTI_S3_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("VATTI_S3_SECRET_ACCESS_KEY", "hunter2")
    monkeypatch.setenv("VATTI_GCS_SERVICE_ACCOUNT_KEY", '{"private_key": "hunter3"}')
    launch = runtime_launch_settings(Settings.for_component("engine"), input_root=None)
    assert launch.secrets == {
        "VATTI_S3_SECRET_ACCESS_KEY": "hunter2",
        "VATTI_GCS_SERVICE_ACCOUNT_KEY": '{"private_key": "hunter3"}',
    }
    assert launch.env["VATTI_S3_ACCESS_KEY_ID"] == "AKIDEXAMPLE"
    for secret in ("hunter2", "hunter3"):
        assert secret not in "".join(launch.env.values())
        assert secret not in repr(launch)


def test_a_secret_the_job_is_not_allowed_goes_nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_DATABASE_URL", "postgresql://u:hunter2@db/vatti")
    monkeypatch.setenv("VATTI_SECRET_KEY", new_key())
    launch = runtime_launch_settings(Settings.for_component("engine"), input_root=None)
    assert "VATTI_DATABASE_URL" not in {**launch.env, **launch.secrets}
    assert "VATTI_SECRET_KEY" not in {**launch.env, **launch.secrets}


def test_without_the_runtime_settings_there_is_nothing_to_launch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VATTI_AUTH", "none")
    with pytest.raises(ConfigError, match="runtime settings were not loaded"):
        runtime_launch_settings(Settings.for_component("api"), input_root=None)


def test_the_runtime_reads_back_what_the_engine_uses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VATTI_DATA_DIR", "data")
    monkeypatch.setenv("VATTI_PGS_CATALOG_URL", "http://127.0.0.1:9/rest/")
    engine_side = Settings.for_component("engine")
    launch = runtime_launch_settings(engine_side, input_root=tmp_path / "in")
    objects, scratch = engine_side.object_store_url(), engine_side.scratch_dir()
    results = engine_side.results_store_url()

    set_env(monkeypatch, launch.env)  # the job's environment is exactly the launch env
    monkeypatch.chdir("/")  # and the job may start anywhere
    job_side = Settings.for_component("runtime")
    assert (job_side.object_store_url(), job_side.scratch_dir()) == (objects, scratch)
    assert job_side.results_store_url() == results
    assert JobSettings.from_settings(job_side) == JobSettings(
        input_root=tmp_path / "in",
        pgs_catalog=PgsCatalogAccess(
            tmp_path / "data" / "pgs-catalog", "http://127.0.0.1:9/rest/", False
        ),
    )


def test_an_overlay_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_PGS_CATALOG_URL", "http://from-env/")
    settings = Settings.for_component(
        "runtime", overlay={"VATTI_PGS_CATALOG_URL": "http://from-pipe/"}
    )
    assert settings.runtime is not None
    assert settings.runtime.pgs_catalog_url == "http://from-pipe/"


def test_an_overlay_is_validated_without_echoing_its_values() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.for_component(
            "runtime",
            overlay={"VATTI_OBJECT_STORE_URL": "ftp://secret-host/", "VATTI_NOPE": "hunter2"},
        )
    lines = caught.value.message.splitlines()[1:]
    assert lines == [
        "VATTI_NOPE: not a setting of this component",
        "VATTI_OBJECT_STORE_URL: expected file:///ABSOLUTE/PATH, s3://BUCKET/PREFIX or gs://...",
    ]
    assert "hunter2" not in caught.value.message
    assert "secret-host" not in caught.value.message


def test_a_group_on_its_defaults_ignores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VATTI_MAX_CONCURRENT_JOBS", "7")
    assert EngineSettings.from_environment().max_concurrent_jobs == 7
    assert EngineSettings().max_concurrent_jobs == 2
    monkeypatch.setenv("vatti_pgs_offline", "1")  # names in any case, as before
    assert RuntimeSettings.from_environment().pgs_offline is True


def test_engine_config_is_derived_from_the_engine_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "VATTI_MAX_CONCURRENT_JOBS": "5",
        "VATTI_POLL_INTERVAL": "250ms",
        "VATTI_RECONCILE_INTERVAL": "2m",
        "VATTI_QUEUE_TIMEOUT": "1h",
        "VATTI_PROVISION_TIMEOUT": "30",
        "VATTI_JOB_MEMORY_MB": "512",
        "VATTI_JOB_WALL_TIME": "90.5",
        "VATTI_RESULTS_TTL": "1d",
        "VATTI_TERMINATE_GRACE": "3",
        "VATTI_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "VATTI_WEBHOOK_SECRET": "s3cret",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.for_component("engine")
    assert settings.engine is not None
    launch = runtime_launch_settings(settings, input_root=None)
    launch.secrets["VATTI_SOME_KEY"] = "k3y"
    config = EngineConfig.from_settings(settings.engine, launch)
    assert (
        config.max_concurrent_jobs,
        config.poll_interval_s,
        config.reconcile_interval_s,
        config.queue_timeout_s,
        config.provision_timeout_s,
        config.default_memory_mb,
        config.default_wall_time_s,
        config.results_ttl_s,
        config.terminate_grace_s,
        config.webhook_url,
    ) == (5, 0.25, 120.0, 3600.0, 30.0, 512, 90, 86400.0, 3.0, "http://127.0.0.1:9/hook")
    assert config.runtime_env == launch.env
    assert config.runtime_secrets == {"VATTI_SOME_KEY": "k3y"}
    assert "k3y" not in repr(config)
