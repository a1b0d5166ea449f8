"""What the dashboard is built with, in plain values (``vatti serve`` fills it from settings)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter

from vatti.domain.access import Caller

#: checks a session's caller again on each request: its caller now, or None (signed out)
CallerCheck = Callable[[Caller], Caller | None]


@dataclass(frozen=True)
class HealthItem:
    """One line of the summary's health: what, whether it is well (None: unknown), details."""

    name: str
    ok: bool | None
    detail: str


@dataclass(frozen=True)
class SignInOption:
    """Another way to sign in, linked from the sign-in page: a path under the dashboard."""

    label: str
    path: str


_SESSION_LABEL = b"vatti dashboard session cookie v1"


def session_key(service_key: str) -> str:
    """The key that signs session cookies, derived from the service key (never the key itself).

    >>> session_key("k") == session_key("k") != session_key("l")
    True
    """
    return hmac.new(service_key.encode(), _SESSION_LABEL, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class DashboardConfig:
    #: signs the session cookie (see :func:`session_key`); None: a random key per process, so
    #: sessions end with the process and do not cross replicas
    session_key: str | None = None
    #: how long a sign-in lasts (seconds), whatever happens to the token meanwhile
    session_ttl_s: float = 8 * 3600.0
    #: a stored token's caller by the token's id, when it is valid now (revoked/expired: None)
    token_by_id: Callable[[str], Caller | None] | None = None
    #: more checks of a session's caller by its actor's kind (``"oidc"``: ...); tokens are
    #: always checked; a kind without a check holds until the session expires
    caller_checks: Mapping[str, CallerCheck] = field(default_factory=dict)
    #: more routes of the dashboard (e.g. the OpenID Connect sign-in), under ``/dashboard``
    routers: tuple[APIRouter, ...] = ()
    #: the other ways to sign in the sign-in page links to (the OpenID Connect sign-in)
    sign_in_options: tuple[SignInOption, ...] = ()
    #: the engines, executor and outbox as they are now (the summary page shows them to admins)
    health: Callable[[], list[HealthItem]] | None = None
    #: subscribes a callback to this process's job changes (its engine's), so live pages
    #: update at once; None: wake-ups and polling only
    subscribe_changes: Callable[[Callable[[], None]], None] | None = None
    #: how often live pages look for changes when no wake-up came (seconds)
    live_poll_s: float = 1.0
