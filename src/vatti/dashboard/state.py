"""What the dashboard's handlers share: the API's state, the dashboard's config, its pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from vatti.api.deps import ApiState
from vatti.dashboard.config import DashboardConfig
from vatti.domain.access import Caller

if TYPE_CHECKING:
    from vatti.dashboard.live import ChangeSignal
    from vatti.dashboard.pages import Pages


@dataclass(frozen=True)
class DashboardState:
    api: ApiState
    config: DashboardConfig
    pages: Pages
    changes: ChangeSignal

    def check_caller(self, caller: Caller) -> Caller | None:
        """``caller`` as it stands now: a token's current tenant and scopes, or None when the
        token was revoked, expired or is no longer configured."""
        kind, _, ident = caller.actor.partition(":")
        if kind == "token":
            if ident.startswith("cfg-"):
                for token in self.api.config.tokens.values():
                    if token.id == ident:
                        return token.caller()
                return None
            by_id = self.config.token_by_id
            return by_id(ident) if by_id is not None else None
        check = self.config.caller_checks.get(kind)
        return check(caller) if check is not None else caller


def dashboard_state(request: Request) -> DashboardState:
    state: DashboardState = request.app.state.dashboard
    return state
