"""Bad requests against the live server are refused and change nothing; auth=none stays local."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import JOBS, Server, clean_env, command, free_port, wait_for

pytestmark = pytest.mark.e2e


def post_raw(server: Server, body: bytes, token: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return server.client(token).post(JOBS, content=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        pytest.param(b'{"pipeline": "command", "params": ', 400, None, id="malformed-json"),
        pytest.param(b'{"pipeline": "nope", "params": {}}', 422, "pipeline", id="unknown-pipeline"),
        pytest.param(
            b'{"pipeline": "command", "params": {"argv": ["true"], "outputs": ["../x"]}}',
            422,
            "outputs",
            id="output-escapes",
        ),
    ],
)
def test_invalid_requests_change_nothing(
    served: Server, body: bytes, status: int, field: str | None
) -> None:
    before = served.job_count()

    resp = post_raw(served, body)

    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["message"]
    if field is not None:
        assert any(field in d["field"] for d in error["details"]), error
    assert served.job_count() == before


def test_oversized_body_is_refused(served: Server) -> None:
    before = served.job_count()
    huge = command("echo", "x" * (2 * 1024 * 1024))

    resp = served.http.post(JOBS, json=huge)

    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"
    assert served.job_count() == before


def test_wrong_token_is_unauthorized(served: Server) -> None:
    before = served.job_count()

    resp = post_raw(served, b'{"pipeline": "command", "params": {"argv": ["true"]}}', "wrong")

    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].lower().startswith("bearer")
    assert "wrong" not in resp.text
    assert served.client("wrong").get(JOBS).status_code == 401
    assert httpx.get(served.url + JOBS).status_code == 401
    assert served.job_count() == before


def test_read_only_token_cannot_submit(served: Server) -> None:
    before = served.job_count()
    body = b'{"pipeline": "command", "params": {"argv": ["true"]}}'

    resp = post_raw(served, body, served.read_token)

    assert resp.status_code == 403
    assert "submit" in resp.json()["error"]["message"]
    assert served.client(served.read_token).get(JOBS).status_code == 200
    assert served.job_count() == before


def serve_without_auth(host: str, data: Path, port: int) -> subprocess.Popen[str]:
    env = clean_env(VATTI_AUTH="none", VATTI_DATA_DIR=str(data))
    return subprocess.Popen(
        [sys.executable, "-m", "vatti", "serve", "--host", host, "--port", str(port)],
        cwd=data.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_auth_none_refuses_a_public_address(tmp_path: Path) -> None:
    proc = serve_without_auth("0.0.0.0", tmp_path / "data", free_port())
    try:
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()

    assert proc.returncode not in (0, None)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "loopback" in lines[0]


def test_auth_none_serves_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    proc = serve_without_auth("127.0.0.1", tmp_path / "data", port)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, proc.communicate()
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, 30, "the server")
        assert httpx.get(url + JOBS).status_code == 200
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=15)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
