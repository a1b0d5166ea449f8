"""Merging vatti's expiry rule into a bucket's lifecycle rules (a recording client; the real
calls run against an S3 server in tests/integration/staging/test_s3_expiry.py)."""

from __future__ import annotations

from typing import Any

import pytest

from vatti.config import StoreSettings
from vatti.errors import ConfigError
from vatti.staging.s3_expiry import ensure_rule, expiry_rule, s3_client

pytestmark = pytest.mark.unit


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class RecordingClient:
    def __init__(self, rules: list[dict[str, Any]] | None) -> None:
        self.rules = rules
        self.puts: list[list[dict[str, Any]]] = []

    def get_bucket_lifecycle_configuration(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs == {"Bucket": "results"}
        if self.rules is None:
            raise ClientError("NoSuchLifecycleConfiguration")
        # S3 answers extra fields (here a legacy empty Prefix) beside the ones it was given
        return {"Rules": [{**r, "Prefix": ""} for r in self.rules]}

    def put_bucket_lifecycle_configuration(self, **kwargs: Any) -> None:
        assert kwargs["Bucket"] == "results"
        self.rules = [
            {k: v for k, v in r.items() if k != "Prefix"}
            for r in kwargs["LifecycleConfiguration"]["Rules"]
        ]
        self.puts.append(self.rules)


OTHER = {
    "ID": "archive-logs",
    "Filter": {"Prefix": "logs/"},
    "Status": "Enabled",
    "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
}


def test_a_bucket_without_rules_gets_one() -> None:
    client = RecordingClient(None)
    assert ensure_rule(client, "results", expiry_rule("vatti/results/", 8)) == "created"
    assert client.puts == [[expiry_rule("vatti/results/", 8)]]


def test_existing_rules_are_kept_and_the_rule_is_not_added_twice() -> None:
    client = RecordingClient([OTHER])
    rule = expiry_rule("results/", 8)
    assert ensure_rule(client, "results", rule) == "created"
    assert ensure_rule(client, "results", rule) == "present"
    assert len(client.puts) == 1
    assert client.rules == [OTHER, rule]


def test_a_changed_ttl_replaces_only_vattis_rule() -> None:
    client = RecordingClient([expiry_rule("results/", 8), OTHER])
    assert ensure_rule(client, "results", expiry_rule("results/", 3)) == "updated"
    assert client.rules == [expiry_rule("results/", 3), OTHER]


def test_another_deployments_prefix_has_its_own_rule() -> None:
    client = RecordingClient([expiry_rule("staging/results/", 8)])
    assert ensure_rule(client, "results", expiry_rule("prod/results/", 8)) == "created"
    assert client.rules is not None
    assert len(client.rules) == 2


def test_a_refusal_is_the_callers_to_report() -> None:
    class Refusing(RecordingClient):
        def put_bucket_lifecycle_configuration(self, **kwargs: Any) -> None:
            raise ClientError("NotImplemented")

    with pytest.raises(ClientError):
        ensure_rule(Refusing(None), "results", expiry_rule("results/", 8))


def test_no_client_without_credentials() -> None:
    with pytest.raises(ConfigError, match="no S3 credentials"):
        s3_client(StoreSettings(s3_endpoint="http://127.0.0.1:9"))
