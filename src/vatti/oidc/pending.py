"""A sign-in between the redirect to the provider and its callback, kept in the browser.

State, nonce, PKCE verifier and the page to go to next travel in one cookie sealed with the
service key (the ``SecretBox`` of ``VATTI_SECRET_KEY``), so any API replica can finish a sign-in
another began and nothing lives only in one process's memory; the browser cannot read or change
it. The cookie is HttpOnly, SameSite=Lax (the callback is a top-level navigation from the
provider's site, which Strict would strip), Secure when vatti is reached over HTTPS, limited to
the callback's folder, and good for :data:`PENDING_TTL_S`; the callback clears it, so a sign-in
completes once.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Final

from vatti.secretbox import PREFIX, SecretBox, SecretUnreadable

COOKIE: Final = "vatti_oidc_pending"
#: how long a user may take at the provider
PENDING_TTL_S: Final = 600


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    started: float
    #: the dashboard page to go to once signed in (checked to be one)
    next: str

    def seal(self, box: SecretBox) -> str:
        return box.seal(json.dumps(asdict(self), separators=(",", ":")))

    @classmethod
    def unseal(
        cls, box: SecretBox, value: str | None, *, now: float | None = None
    ) -> PendingSignIn | None:
        """The pending sign-in of a cookie; None when absent, forged, unreadable or too old."""
        if not value or not value.startswith(PREFIX):
            return None  # (the box reads a value without the prefix as clear text)
        try:
            fields = json.loads(box.open(value))
            pending = cls(
                str(fields["state"]),
                str(fields["nonce"]),
                str(fields["code_verifier"]),
                float(fields["started"]),
                str(fields["next"]),
            )
        except (SecretUnreadable, ValueError, KeyError, TypeError):
            return None
        age = (time.time() if now is None else now) - pending.started
        return pending if 0 <= age <= PENDING_TTL_S else None
