"""The API's settings, in plain values (built by ``vatti serve`` from its settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from vatti.tokens import ConfiguredToken


@dataclass(frozen=True)
class ApiConfig:
    """``tokens`` maps the SHA-256 hex digest of each configured bearer token to its tenant and
    scopes (``VATTI_API_TOKENS``)."""

    tokens: Mapping[str, ConfiguredToken] = field(default_factory=dict)
    auth_disabled: bool = False
    max_body_bytes: int = 1_048_576
    dedup_window_s: float = 600.0
    page_limit_max: int = 500
    #: browser origins allowed to call the API (CORS); empty: CORS off
    cors_origins: tuple[str, ...] = ()
    #: served over TLS (responses then carry HSTS)
    tls: bool = False
    #: submissions per minute and token, on average (0: unlimited), and how many at once
    submit_rate_per_min: float = 60.0
    submit_burst: int = 20
    #: who may scrape /metrics: token (read or admin scope), or loopback clients without one
    metrics_access: Literal["token", "loopback"] = "token"

    #: GA4GH WES service-info's organization (its URL, None: the service's own) and the page
    #: telling clients how to get a token (None: the service's own instructions)
    wes_organization: str = "vatti"
    wes_organization_url: str | None = None
    wes_auth_instructions_url: str | None = None
