"""The request id in log lines, and the API's CORS and TLS settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vatti.config import ApiSettings, Settings
from vatti.errors import ConfigError
from vatti.logging_setup import FORMAT, REQUEST_ID, RequestIdFormatter

pytestmark = pytest.mark.unit

TOKENS = "a" * 64 + ":read"


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("vatti.api", logging.INFO, __file__, 1, message, None, None)


def test_lines_logged_while_a_request_is_handled_name_its_id() -> None:
    formatter = RequestIdFormatter(FORMAT)
    assert "request_id" not in formatter.format(record("job.submitted"))
    token = REQUEST_ID.set("portal-42")
    try:
        assert formatter.format(record("job.submitted")).endswith(
            "job.submitted request_id=portal-42"
        )
    finally:
        REQUEST_ID.reset(token)


def test_cors_origins_are_parsed_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_API_TOKENS", TOKENS)
    monkeypatch.setenv("VATTI_CORS_ORIGINS", " https://a.example.org/, http://127.0.0.1:3000")
    api = ApiSettings.from_environment()
    assert api.cors_origin_list() == ("https://a.example.org", "http://127.0.0.1:3000")
    assert ApiSettings().cors_origin_list() == ()


@pytest.mark.parametrize("origin", ["*", "https://a.example.org/path", "portal.example.org"])
def test_what_is_not_an_origin_is_refused(monkeypatch: pytest.MonkeyPatch, origin: str) -> None:
    monkeypatch.setenv("VATTI_API_TOKENS", TOKENS)
    monkeypatch.setenv("VATTI_CORS_ORIGINS", origin)
    with pytest.raises(ConfigError) as info:
        Settings.for_component("api")
    assert "VATTI_CORS_ORIGINS" in info.value.message


def test_tls_needs_a_readable_certificate_and_its_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("certificate")
    key.write_text("key")
    monkeypatch.setenv("VATTI_API_TOKENS", TOKENS)
    monkeypatch.setenv("VATTI_TLS_CERT_FILE", str(cert))
    with pytest.raises(ConfigError) as info:
        Settings.for_component("api")
    assert "VATTI_TLS_KEY_FILE" in info.value.message

    monkeypatch.setenv("VATTI_TLS_KEY_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError) as info:
        Settings.for_component("api")
    assert "missing.pem" in info.value.message
    assert "not a readable file" in info.value.message

    monkeypatch.setenv("VATTI_TLS_KEY_FILE", str(key))
    api = Settings.for_component("api").api
    assert api is not None
    assert api.tls
