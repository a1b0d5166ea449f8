"""The dashboard's OpenID Connect sign-in from the settings: its routes and its sign-in link.

Nothing of the sign-in is imported, and nothing is read from the provider, unless
``VATTI_OIDC_ISSUER`` is set; then the ``vatti[oidc]`` extra must be installed (a clear
configuration error otherwise) and the provider is first asked at the first sign-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vatti.config import OidcSettings

if TYPE_CHECKING:
    from fastapi import APIRouter, Request
    from fastapi.responses import Response

    from vatti.dashboard.config import SignInOption

#: what the sign-in page's link says
LINK_LABEL = "Sign in with your organisation's account"


@dataclass(frozen=True)
class OidcParts:
    """What the dashboard gets: more routes and another way to sign in (none when off)."""

    routers: tuple[APIRouter, ...] = ()
    options: tuple[SignInOption, ...] = field(default=())


def refusal_in_dashboard(request: Request, status: int, title: str, detail: str) -> Response:
    """A refused sign-in as a dashboard page (its look, its CSP)."""
    from vatti.dashboard.state import dashboard_state

    pages = dashboard_state(request).pages
    return pages.render(request, "sign_in_refused.html", status=status, title=title, detail=detail)


def oidc_parts(settings: OidcSettings | None, service_keys: Sequence[str]) -> OidcParts:
    """The sign-in's parts; ``service_keys`` seal the pending sign-in's cookie."""
    if settings is None or settings.oidc_issuer is None:
        return OidcParts()
    from vatti.dashboard.config import SignInOption
    from vatti.dashboard.session import sign_in
    from vatti.oidc.client import OidcClient, OidcConfig
    from vatti.oidc.routes import LOGIN_PATH, oidc_router
    from vatti.secretbox import SecretBox

    config = OidcConfig.from_settings(settings)
    assert config is not None
    client = OidcClient(config)  # checks the extra is installed
    router = oidc_router(client, SecretBox(service_keys), sign_in, page=refusal_in_dashboard)
    return OidcParts((router,), (SignInOption(LINK_LABEL, LOGIN_PATH),))
