"""What ``vatti serve`` gives the dashboard of the OpenID Connect sign-in."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from vatti.config import OidcSettings
from vatti.oidc.wiring import oidc_parts
from vatti.secretbox import new_key

pytestmark = pytest.mark.unit


def test_without_an_issuer_the_dashboard_gets_nothing() -> None:
    parts = oidc_parts(OidcSettings(), [new_key()])
    assert parts.routers == ()
    assert parts.options == ()


def test_with_an_issuer_it_gets_the_two_routes_and_a_link_to_the_sign_in() -> None:
    settings = OidcSettings(
        oidc_issuer="https://id.example.org",
        oidc_client_id="vatti",
        oidc_redirect_url="https://vatti.example.org/dashboard/oidc/callback",
        oidc_scope_map="ops=admin",
    )
    parts = oidc_parts(settings, [new_key()])
    (router,) = parts.routers
    paths = sorted(r.path for r in router.routes if isinstance(r, APIRoute))
    assert paths == ["/login/oidc", "/oidc/callback"]
    assert [o.path for o in parts.options] == ["/login/oidc"]
