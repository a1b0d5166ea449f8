"""Who is calling the job service: their tenant, what they may do, and how events name them (pure).

Every job belongs to a tenant (the backend that submitted it). A caller sees and acts on its own
tenant's jobs only; one with the ``admin`` scope sees every tenant's. Every event row names its
actor: ``token:<id>`` (a bearer token's id, never the token), ``kafka`` (the Kafka intake),
``oidc:<subject>``, ``operator:<user>`` (the CLI on the service's machine), or ``engine``
(the transitions the engine makes on its own).

>>> from vatti.domain.scopes import parse_scopes
>>> Caller.token("0190", "lab-a", parse_scopes("read")).actor
'token:0190'
>>> OPERATOR_CALLER.sees("any-tenant")
True
>>> Caller.token("0190", "lab-a", parse_scopes("read")).sees("lab-b")
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from vatti.domain.scopes import ADMIN, Scope, can_read, can_submit, command_of, is_admin

#: the tenant of the jobs submitted before tenants existed, of ``VATTI_API_TOKENS`` tokens
#: and of the operator's own ``vatti run``
DEFAULT_TENANT: Final = "default"
#: the actor of the transitions the engine makes (admission, start, end)
ENGINE_ACTOR: Final = "engine"
#: what a tenant name may be (as ``vatti token create --tenant`` takes it)
TENANT_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


def check_tenant(name: str) -> str:
    """A tenant name, checked; ValueError saying what one may be."""
    if not re.fullmatch(TENANT_PATTERN, name):
        raise ValueError(
            f"invalid tenant {name!r}: letters, digits, '.', '_' and '-', at most 64, "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Caller:
    """A caller of the job service: the tenant it acts for, its scopes, and its actor name."""

    tenant: str
    scopes: frozenset[Scope]
    actor: str

    @classmethod
    def token(cls, token_id: str, tenant: str, scopes: frozenset[Scope]) -> Caller:
        return cls(tenant, scopes, f"token:{token_id}")

    @classmethod
    def operator(cls, user: str) -> Caller:
        """The operator on the service's machine (the CLI): admin, on the default tenant."""
        return cls(DEFAULT_TENANT, frozenset({Scope(ADMIN)}), f"operator:{user}")

    @classmethod
    def kafka(cls, tenant: str) -> Caller:
        return cls(tenant, frozenset({Scope("submit")}), "kafka")

    @classmethod
    def oidc(cls, subject: str, tenant: str, scopes: frozenset[Scope]) -> Caller:
        return cls(tenant, scopes, f"oidc:{subject}")

    @property
    def admin(self) -> bool:
        return is_admin(self.scopes)

    def sees(self, tenant: str) -> bool:
        """Whether a job of ``tenant`` exists for this caller (others answer "not found")."""
        return self.admin or tenant == self.tenant

    def may_read(self) -> bool:
        return can_read(self.scopes)

    def may_submit(self, pipeline: str, command: str | None) -> bool:
        return can_submit(self.scopes, pipeline, command)

    def may_act_on(self, pipeline: str, params: Any) -> bool:
        """Whether a job may be cancelled or retried: by a scope that could have submitted it."""
        return can_submit(self.scopes, pipeline, command_of(pipeline, params))


#: a caller that may do anything on every tenant's jobs, for the service's own uses and tests
OPERATOR_CALLER: Final = Caller.operator("vatti")
