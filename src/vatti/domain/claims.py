"""From an OpenID Connect user's claims to vatti's tenant and scopes (pure).

The operator says which claim holds what the identity provider knows of a user's rights (a
Keycloak client's ``roles``, Dex's ``groups``, a nested ``realm_access.roles``), and which of its
values give which vatti scopes, in the one scope grammar (:mod:`vatti.domain.scopes`). The
tenant comes from another claim, or is the configured default. A user whose values map to no
scope is refused (:class:`NoScopes`): being known to the provider is not a right to use vatti.

>>> mapping = ClaimMapping.parse("groups", "vatti-admins=admin; lab-a=read,submit:pgs")
>>> tenant, scopes = mapping.resolve({"sub": "u1", "groups": ["lab-a", "staff"]})
>>> tenant, sorted(str(s) for s in scopes)
('default', ['read', 'submit:pgs'])
>>> mapping.resolve({"sub": "u2", "groups": ["staff"]})
Traceback (most recent call last):
...
vatti.domain.claims.NoScopes: the 'groups' claim holds no value that gives vatti scopes
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from vatti.domain.access import DEFAULT_TENANT, check_tenant
from vatti.domain.scopes import InvalidScope, Scope, parse_scopes

#: how the value -> scopes map is written (said once for every error message)
MAP_GRAMMAR: Final = "VALUE=SCOPE[,SCOPE] entries separated by ';'"


class ClaimsRefused(ValueError):
    """The claims of a user who signed in at the provider give no vatti caller."""


class NoScopes(ClaimsRefused):
    """None of the user's claim values maps to a vatti scope."""


class BadTenant(ClaimsRefused):
    """The tenant claim holds no valid tenant name."""


def parse_scope_map(text: str) -> dict[str, frozenset[Scope]]:
    """``VALUE=SCOPES;...``: each claim value and the scopes it gives. A value may hold ``=``
    (the scopes follow the last one); :class:`InvalidScope` naming the faulty entry.

    >>> {k: sorted(map(str, v)) for k, v in parse_scope_map("/ops=admin;a=b=read").items()}
    {'/ops': ['admin'], 'a=b': ['read']}
    """
    out: dict[str, frozenset[Scope]] = {}
    for entry in text.split(";"):
        if not entry.strip():
            continue
        value, sep, scopes = entry.rpartition("=")
        value = value.strip()
        if not sep or not value:
            raise InvalidScope(f"malformed entry {entry.strip()!r}: use {MAP_GRAMMAR}")
        if value in out:
            raise InvalidScope(f"the value {value!r} is mapped twice")
        try:
            out[value] = parse_scopes(scopes)
        except InvalidScope as exc:
            raise InvalidScope(f"entry {entry.strip()!r}: {exc}") from None
    if not out:
        raise InvalidScope(f"map at least one value: {MAP_GRAMMAR}")
    return out


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim named ``path``; a dotted path reaches into objects (``realm_access.roles``)
    when no claim has the whole name. None when absent.

    >>> claim_at({"realm_access": {"roles": ["x"]}}, "realm_access.roles")
    ['x']
    >>> claim_at({"a.b": 1}, "a.b"), claim_at({}, "a.b")
    (1, None)
    """
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def claim_values(value: Any) -> list[str]:
    """A claim as the strings it holds: a list's strings, one string, or a space-separated
    string (how some providers send ``roles``); other types hold none.

    >>> claim_values(["a", 1, "b"]), claim_values("a b"), claim_values(None)
    (['a', 'b'], ['a', 'b'], [])
    """
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


@dataclass(frozen=True)
class ClaimMapping:
    """Which claim gives scopes and how, and which gives the tenant."""

    scopes_claim: str
    scope_map: Mapping[str, frozenset[Scope]] = field(default_factory=dict)
    tenant_claim: str | None = None
    default_tenant: str = DEFAULT_TENANT

    @classmethod
    def parse(
        cls,
        scopes_claim: str,
        scope_map: str,
        *,
        tenant_claim: str | None = None,
        default_tenant: str = DEFAULT_TENANT,
    ) -> ClaimMapping:
        return cls(scopes_claim, parse_scope_map(scope_map), tenant_claim, default_tenant)

    def scopes(self, claims: Mapping[str, Any]) -> frozenset[Scope]:
        """The union of the scopes each of the user's values gives; :class:`NoScopes` if none."""
        values = claim_values(claim_at(claims, self.scopes_claim))
        given = frozenset(s for v in values for s in self.scope_map.get(v, ()))
        if not given:
            raise NoScopes(
                f"the {self.scopes_claim!r} claim holds no value that gives vatti scopes"
            )
        return given

    def tenant(self, claims: Mapping[str, Any]) -> str:
        """The tenant claim's value (the default when unset or absent); :class:`BadTenant`
        when it is not one string that is a tenant name."""
        if self.tenant_claim is None:
            return self.default_tenant
        value = claim_at(claims, self.tenant_claim)
        if value is None:
            return self.default_tenant
        if not isinstance(value, str):
            raise BadTenant(f"the {self.tenant_claim!r} claim is not one tenant name")
        try:
            return check_tenant(value)
        except ValueError as exc:
            raise BadTenant(f"the {self.tenant_claim!r} claim: {exc}") from None

    def resolve(self, claims: Mapping[str, Any]) -> tuple[str, frozenset[Scope]]:
        """The tenant and the scopes of a user; :class:`ClaimsRefused` when none."""
        return self.tenant(claims), self.scopes(claims)
