"""The OpenID Connect settings: off unless an issuer is set, then complete and safe."""

from __future__ import annotations

import pytest

from vatti.config import OidcSettings, Settings
from vatti.domain.scopes import format_scopes
from vatti.errors import ConfigError
from vatti.oidc.client import OidcConfig

pytestmark = pytest.mark.unit

COMPLETE = {
    "VATTI_OIDC_ISSUER": "https://id.example.org/realms/lab/",
    "VATTI_OIDC_CLIENT_ID": "vatti",
    "VATTI_OIDC_CLIENT_SECRET": "s3cret-of-the-client",
    "VATTI_OIDC_REDIRECT_URL": "https://vatti.example.org/dashboard/oidc/callback",
    "VATTI_OIDC_SCOPE_MAP": "vatti-admins=admin;lab-a=read,submit:pgs",
    "VATTI_OIDC_TENANT_CLAIM": "org",
}


def api_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.for_component("api")


def test_without_an_issuer_oidc_sign_in_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OidcConfig.from_settings(api_settings(monkeypatch, {}).oidc) is None


def test_a_complete_configuration_gives_the_relying_partys_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = OidcConfig.from_settings(api_settings(monkeypatch, COMPLETE).oidc)
    assert config is not None
    assert config.issuer == "https://id.example.org/realms/lab"
    assert config.client_secret == "s3cret-of-the-client"
    assert "s3cret" not in repr(config)
    assert config.secure_cookies
    assert config.mapping.tenant_claim == "org"
    assert format_scopes(config.mapping.scopes({"groups": ["lab-a"]})) == "read,submit:pgs"


def test_an_issuer_without_client_redirect_or_map_names_each_missing_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError) as raised:
        api_settings(monkeypatch, {"VATTI_OIDC_ISSUER": "https://id.example.org"})
    for name in ("VATTI_OIDC_CLIENT_ID", "VATTI_OIDC_REDIRECT_URL", "VATTI_OIDC_SCOPE_MAP"):
        assert f"{name}: required when VATTI_OIDC_ISSUER is set" in raised.value.message


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("VATTI_OIDC_ISSUER", "http://id.example.org", "https://"),
        ("VATTI_OIDC_REDIRECT_URL", "http://vatti.example.org/cb", "https://"),
        ("VATTI_OIDC_REDIRECT_URL", "https://vatti.example.org/cb?next=x", "without query"),
        ("VATTI_OIDC_SCOPES", "profile email", "include openid"),
        ("VATTI_OIDC_SCOPE_MAP", "lab-a=root", "unknown scope 'root'"),
        ("VATTI_OIDC_DEFAULT_TENANT", "../x", "invalid tenant"),
    ],
)
def test_an_unsafe_or_malformed_value_is_refused_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    with pytest.raises(ConfigError, match=said) as raised:
        api_settings(monkeypatch, {**COMPLETE, name: value})
    assert name in raised.value.message
    assert "s3cret" not in raised.value.message


def test_http_is_accepted_for_a_loopback_provider() -> None:
    settings = OidcSettings(
        oidc_issuer="http://127.0.0.1:8080", oidc_redirect_url="http://localhost:8000/cb"
    )
    assert settings.oidc_issuer == "http://127.0.0.1:8080"
