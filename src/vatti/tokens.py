"""Bearer tokens: how one is made, the hash under which a server is configured with it, and
the ``VATTI_API_TOKENS`` entries that configure them."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from vatti.domain.access import DEFAULT_TENANT, Caller, check_tenant
from vatti.domain.scopes import READ, Scope, parse_scopes

#: the spelling of one ``VATTI_API_TOKENS`` entry, for error messages
ENTRY_FORM = "[TENANT@]SHA256HEX:scope[,scope]"


@dataclass(frozen=True)
class ConfiguredToken:
    """A token of ``VATTI_API_TOKENS``: its tenant and scopes (its id is its digest's start)."""

    tenant: str
    scopes: frozenset[Scope]
    digest: str

    @property
    def id(self) -> str:
        return f"cfg-{self.digest[:12]}"

    def caller(self) -> Caller:
        return Caller.token(self.id, self.tenant, self.scopes)


def parse_token_entry(spec: str) -> ConfiguredToken:
    """One ``[TENANT@]SHA256HEX:scopes`` entry (no scopes: ``read``); ValueError otherwise.

    >>> t = parse_token_entry("lab-a@" + "A" * 64 + ":submit:pgs, read")
    >>> (t.tenant, sorted(map(str, t.scopes)), t.id)
    ('lab-a', ['read', 'submit:pgs'], 'cfg-aaaaaaaaaaaa')
    >>> parse_token_entry("b" * 64).tenant
    'default'
    """
    head, _, scopes = spec.strip().partition(":")
    tenant, at, digest = head.rpartition("@")
    digest = digest.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"each token must be {ENTRY_FORM} (the SHA-256 of the token)")
    return ConfiguredToken(
        tenant=check_tenant(tenant.strip()) if at else DEFAULT_TENANT,
        scopes=parse_scopes(scopes) if scopes.strip() else frozenset({Scope(READ)}),
        digest=digest,
    )


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is configured (``VATTI_API_TOKENS``).

    >>> hash_token("abc")
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
