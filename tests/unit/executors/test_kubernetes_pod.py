"""The pod's wrapper: the secrets file must be the attempt's; the API server's address stays out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vatti.executors.kubernetes_pod import parser, read_secrets, run, runtime_env

pytestmark = pytest.mark.unit


def test_the_secrets_file_of_another_job_or_attempt_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"job_id": "j1", "attempt": 1, "secrets": {"VATTI_X": "v"}}))
    assert read_secrets(path, "j1", 1) == {"VATTI_X": "v"}
    with pytest.raises(ValueError, match="another job or attempt"):
        read_secrets(path, "j1", 2)
    with pytest.raises(ValueError, match="another job or attempt"):
        read_secrets(path, "j2", 1)


def test_a_missing_secrets_file_stops_the_job_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--job-id", "j1", "--attempt", "1", "--entry", "nowhere:main"]
    assert run(parser().parse_args([*argv, "--secrets", str(tmp_path / "absent.json")])) == 127
    assert "the job's secrets could not be read" in capsys.readouterr().err


def test_the_runtime_does_not_get_the_api_servers_address() -> None:
    env = {
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "KUBERNETES_PORT": "tcp://10.0.0.1:443",
        "VATTI_DATA_DIR": "/var/lib/vatti",
        "PATH": "/usr/bin",
    }
    assert runtime_env(env) == {"VATTI_DATA_DIR": "/var/lib/vatti", "PATH": "/usr/bin"}
