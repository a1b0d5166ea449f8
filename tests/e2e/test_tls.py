"""``vatti serve`` over HTTPS from a certificate and key in its settings."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import free_port, wait_for
from tests.e2e.processes import START_TIMEOUT_S, Cluster

pytestmark = pytest.mark.e2e


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command line is needed to make a test certificate")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(["openssl", *request, *names, *files], check=True, capture_output=True)
    return cert, key


def test_serve_answers_https_only_with_hsts_and_logs_request_ids(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    cluster = Cluster(tmp_path, VATTI_TLS_CERT_FILE=str(cert), VATTI_TLS_KEY_FILE=str(key))
    port = free_port()
    api = cluster.spawn("api", "serve", "--no-engine", "--host", "127.0.0.1", "--port", str(port))
    trust = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if api.proc.poll() is not None:
                pytest.fail(f"vatti serve exited\n{api.log()}")
            try:
                return httpx.get(f"{url}/healthz", verify=trust, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, START_TIMEOUT_S, "the HTTPS server")
        answer = httpx.get(
            f"{url}/api/v1/jobs",
            verify=trust,
            headers={"Authorization": f"Bearer {cluster.token}", "X-Request-Id": "portal-7"},
        )
        assert answer.status_code == 200
        assert answer.headers["strict-transport-security"].startswith("max-age=")
        assert answer.headers["x-request-id"] == "portal-7"
        with pytest.raises(httpx.HTTPError):  # no plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        wait_for(lambda: "request_id=portal-7" in api.log(), 5, "the request's log line")
        line = next(x for x in api.log().splitlines() if "request_id=portal-7" in x)
        assert "GET /api/v1/jobs" in line  # the access line, in vatti's format
        assert cluster.token not in api.log()
    finally:
        cluster.stop_all()


def test_config_check_names_a_certificate_without_its_key(tmp_path: Path) -> None:
    cert, _key = self_signed(tmp_path)
    cluster = Cluster(tmp_path, VATTI_TLS_CERT_FILE=str(cert))
    checked = cluster.spawn("check", "config", "check", "--component", "api")
    assert checked.proc.wait(timeout=30) == 78
    assert "VATTI_TLS_KEY_FILE" in checked.log()
