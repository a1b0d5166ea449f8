"""What vatti accepts of a provider's discovery document."""

from __future__ import annotations

from typing import Any

import pytest

from vatti.oidc.client import ProviderMetadata, ProviderUnavailable

pytestmark = pytest.mark.unit

ISSUER = "https://id.example.org/realms/lab"
DOC = {
    "issuer": ISSUER,
    "authorization_endpoint": ISSUER + "/auth",
    "token_endpoint": ISSUER + "/token",
    "jwks_uri": ISSUER + "/certs",
    "id_token_signing_alg_values_supported": ["HS256", "RS256", "ES256", "none"],
    "code_challenge_methods_supported": ["plain", "S256"],
}


def test_the_endpoints_and_only_asymmetric_algorithms_are_kept() -> None:
    meta = ProviderMetadata.from_document(ISSUER, DOC)
    assert meta.token_endpoint == ISSUER + "/token"
    assert meta.algorithms == ("RS256", "ES256")


def test_without_a_list_of_algorithms_rs256_is_assumed() -> None:
    doc = {k: v for k, v in DOC.items() if k != "id_token_signing_alg_values_supported"}
    assert ProviderMetadata.from_document(ISSUER, doc).algorithms == ("RS256",)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"issuer": "https://id.example.org/realms/other"}, "another issuer"),
        ({"token_endpoint": "http://id.example.org/token"}, "no https token_endpoint"),
        ({"jwks_uri": None}, "no https jwks_uri"),
        ({"code_challenge_methods_supported": ["plain"]}, "PKCE with S256"),
        ({"id_token_signing_alg_values_supported": ["HS256", "none"]}, "no asymmetric"),
    ],
)
def test_a_document_vatti_cannot_trust_is_refused(change: dict[str, Any], said: str) -> None:
    with pytest.raises(ProviderUnavailable, match=said):
        ProviderMetadata.from_document(ISSUER, {**DOC, **change})
