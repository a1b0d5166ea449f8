"""A session's caller is checked again on every request: a token's as it stands now."""

from __future__ import annotations

from typing import Any

import pytest

from vatti.api.config import ApiConfig
from vatti.api.deps import ApiState
from vatti.dashboard.config import DashboardConfig
from vatti.dashboard.live import ChangeSignal
from vatti.dashboard.pages import Pages
from vatti.dashboard.state import DashboardState
from vatti.domain.access import Caller
from vatti.domain.scopes import parse_scopes
from vatti.tokens import hash_token, parse_token_entry

pytestmark = pytest.mark.unit

CONFIGURED = parse_token_entry(f"lab-a@{hash_token('t')}:submit,read")


def state(**config: Any) -> DashboardState:
    api = ApiState(service=None, config=ApiConfig(tokens={CONFIGURED.digest: CONFIGURED}))  # type: ignore[arg-type]
    return DashboardState(api, DashboardConfig(**config), Pages(), ChangeSignal())


def test_a_configured_tokens_caller_is_its_current_one() -> None:
    stale = Caller(CONFIGURED.tenant, parse_scopes("admin"), f"token:{CONFIGURED.id}")
    assert state().check_caller(stale) == CONFIGURED.caller()


def test_a_token_no_longer_configured_is_signed_out() -> None:
    assert state().check_caller(Caller.token("cfg-000000000000", "x", parse_scopes("read"))) is None


def test_a_stored_token_is_looked_up_by_id() -> None:
    now = Caller.token("0190", "lab-b", parse_scopes("read"))
    found = state(token_by_id={"0190": now}.get)
    assert found.check_caller(Caller.token("0190", "lab-b", parse_scopes("admin"))) == now
    assert found.check_caller(Caller.token("0191", "lab-b", parse_scopes("read"))) is None
    # without a way to look stored tokens up, none is trusted
    assert state().check_caller(now) is None


def test_other_callers_pass_their_kinds_check_or_hold() -> None:
    oidc = Caller.oidc("alice", "lab-a", parse_scopes("read"))
    assert state().check_caller(oidc) == oidc
    assert state(caller_checks={"oidc": lambda c: None}).check_caller(oidc) is None
