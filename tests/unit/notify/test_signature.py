from __future__ import annotations

import hashlib
import hmac

import pytest

from vatti.notify.signature import signature_header, verify_signature

pytestmark = pytest.mark.unit

BODY = b'{"event":"Succeeded","job_id":"j1"}'


def test_header_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = signature_header("topsecret", 1_700_000_000, BODY)
    expected = hmac.new(b"topsecret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_receiver_accepts_a_fresh_valid_signature() -> None:
    header = signature_header("topsecret", 1000, BODY)
    assert verify_signature("topsecret", header, BODY, now=1000 + 299)
    assert verify_signature("topsecret", header, BODY, now=1000 - 299)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("wrong", BODY, 1000),  # other secret
        ("topsecret", BODY + b" ", 1000),  # body altered
        ("topsecret", BODY, 1000 + 301),  # replayed too late
    ],
)
def test_receiver_rejects(secret: str, body: bytes, now: float) -> None:
    header = signature_header("topsecret", 1000, BODY)
    assert not verify_signature(secret, header, body, now=now)


@pytest.mark.parametrize(
    "header", ["", "garbage", "t=1000", "v1=abc", "t=abc,v1=00", "t=1000;v1=0"]
)
def test_malformed_headers_are_rejected(header: str) -> None:
    assert not verify_signature("topsecret", header, BODY, now=1000)


def test_rotated_secrets_any_v1_may_match() -> None:
    good = signature_header("new", 1000, BODY).split(",")[1]
    header = f"t=1000,v1={'0' * 64},{good}"
    assert verify_signature("new", header, BODY, now=1000)
