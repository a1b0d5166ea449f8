"""Bearer tokens kept in the job database: made, listed and revoked while the service runs.

Only a token's SHA-256 digest is stored (:func:`vatti.tokens.hash_token`); the token itself is
shown once, when it is made. A token belongs to a tenant (the backend it was made for), has
scopes (:mod:`vatti.domain.scopes`: an unknown one is refused when the token is made), a
description, and may expire; a revoked or expired one is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from vatti.domain.access import check_tenant
from vatti.domain.ids import new_id
from vatti.domain.scopes import Scope, format_scopes, parse_scopes
from vatti.store.errors import StoreError
from vatti.store.schema import api_tokens
from vatti.tokens import hash_token, new_token


class UnknownToken(StoreError):
    code = "unknown_token"
    exit_code = 65


@dataclass(frozen=True)
class TokenRecord:
    id: str
    tenant: str
    scopes: frozenset[Scope]
    description: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def valid_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _record(row: sa.RowMapping) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        tenant=row["tenant"],
        scopes=parse_scopes(row["scopes"]),
        description=row["description"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


class SqlTokenStore:
    """The ``api_tokens`` table on a SQLAlchemy engine (shared with the job store)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(
        self,
        *,
        tenant: str,
        scopes: Iterable[str],
        description: str,
        now: datetime,
        expires_at: datetime | None = None,
    ) -> tuple[TokenRecord, str]:
        """A new token: its record and the token itself (shown once, stored nowhere).
        ValueError (``InvalidScope``) for a scope outside the grammar or a bad tenant name."""
        token = new_token()
        record = TokenRecord(
            id=new_id(now),
            tenant=check_tenant(tenant),
            scopes=parse_scopes(scopes),
            description=description,
            created_at=now,
            expires_at=expires_at,
        )
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(api_tokens).values(
                    id=record.id,
                    digest=hash_token(token),
                    tenant=tenant,
                    scopes=format_scopes(record.scopes),
                    description=description,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return record, token

    def list(self) -> list[TokenRecord]:
        query = sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query).mappings()]

    def revoke(self, token_id: str, now: datetime) -> TokenRecord:
        """Revoke a token (again: no change); raises :class:`UnknownToken`."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = (
                conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id))
                .mappings()
                .first()
            )
        if row is None:
            raise UnknownToken(f"no token with id {token_id!r}")
        return _record(row)

    def find(self, digest: str) -> TokenRecord | None:
        """The token with this digest, valid or not; None when there is none."""
        query = sa.select(api_tokens).where(api_tokens.c.digest == digest)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _record(row) if row is not None else None

    def get(self, token_id: str) -> TokenRecord | None:
        """The token with this id, valid or not; None when there is none (the dashboard checks
        its sessions' tokens by id: a session never holds the token or its digest)."""
        query = sa.select(api_tokens).where(api_tokens.c.id == token_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _record(row) if row is not None else None
