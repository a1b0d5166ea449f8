"""The pending sign-in's cookie: sealed, tamper-evident and short-lived."""

from __future__ import annotations

import json

import pytest

from vatti.oidc.pending import PENDING_TTL_S, PendingSignIn
from vatti.secretbox import SecretBox, new_key

pytestmark = pytest.mark.unit

BOX = SecretBox([new_key()])
PENDING = PendingSignIn("state-1", "nonce-1", "verifier-1", 1_000_000.0, next="/dashboard/jobs/j1")


def test_a_sealed_sign_in_opens_with_the_same_keys_and_hides_its_values() -> None:
    value = PENDING.seal(BOX)
    assert "verifier-1" not in value
    assert "state-1" not in value
    assert PendingSignIn.unseal(BOX, value, now=PENDING.started + 5) == PENDING


def test_a_sign_in_too_old_or_from_the_future_is_gone() -> None:
    value = PENDING.seal(BOX)
    assert PendingSignIn.unseal(BOX, value, now=PENDING.started + PENDING_TTL_S + 1) is None
    assert PendingSignIn.unseal(BOX, value, now=PENDING.started - 1) is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        # clear text the box would read as it is: a forged cookie
        json.dumps({"state": "s", "nonce": "n", "code_verifier": "v", "started": 1e6, "next": "/"}),
        PENDING.seal(SecretBox([new_key()])),  # another service's key
        PENDING.seal(BOX)[:-4] + "AAAA",  # altered
        BOX.seal('{"state": "s"}'),  # sealed, but not a sign-in
    ],
    ids=["absent", "empty", "clear-text", "other-key", "altered", "incomplete"],
)
def test_what_is_not_a_sealed_sign_in_of_this_service_is_none(value: str | None) -> None:
    assert PendingSignIn.unseal(BOX, value, now=PENDING.started) is None
