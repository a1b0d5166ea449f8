"""The results areas' bucket lifecycle rule on a real S3 server (moto's, on loopback)."""

from __future__ import annotations

import logging

import pytest

from vatti.assembly import set_results_expiry
from vatti.config import CommonSettings, Settings
from vatti.staging.s3_expiry import ensure_results_expiry
from vatti.testing.s3 import SECRET_ACCESS_KEY, S3Server

pytestmark = pytest.mark.integration

DAY = 86400.0
THEIRS = {
    "ID": "archive-raw-data",
    "Filter": {"Prefix": "raw/"},
    "Status": "Enabled",
    "Expiration": {"Days": 365},
}


def rules(server: S3Server, bucket: str) -> list[dict[str, object]]:
    answer = server.client.get_bucket_lifecycle_configuration(Bucket=bucket)
    return list(answer["Rules"])


def test_the_rule_joins_the_buckets_rules_once_and_follows_the_ttl(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket("project-results")
    s3_server.client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [THEIRS]}
    )
    url, settings = "s3://project-results/vatti", s3_server.settings()

    assert ensure_results_expiry(url, settings, 7 * DAY) == "created"
    assert ensure_results_expiry(url, settings, 7 * DAY) == "present"
    found = rules(s3_server, bucket)
    theirs = found[0]  # first, as it was
    assert (theirs["ID"], theirs["Expiration"]) == ("archive-raw-data", {"Days": 365})
    ours = [r for r in found if r["ID"] != "archive-raw-data"]
    assert len(ours) == 1
    assert ours[0]["Filter"] == {"Prefix": "vatti/results/"}
    assert ours[0]["Expiration"] == {"Days": 8}

    assert ensure_results_expiry(url, settings, 2 * DAY) == "updated"
    found = rules(s3_server, bucket)
    assert len(found) == 2
    assert [r["Expiration"] for r in found if r["ID"] != "archive-raw-data"] == [{"Days": 3}]


def test_each_results_prefix_of_a_bucket_has_its_own_rule(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket("project-results")
    settings = s3_server.settings()
    ensure_results_expiry("s3://project-results/staging", settings, DAY)
    ensure_results_expiry("s3://project-results/prod", settings, DAY)
    prefixes = sorted(str(r["Filter"]) for r in rules(s3_server, bucket))
    assert prefixes == ["{'Prefix': 'prod/results/'}", "{'Prefix': 'staging/results/'}"]


def test_a_store_that_takes_no_rule_is_reported_and_not_fatal(
    s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    store = s3_server.settings(results_store_url="s3://no-such-bucket/vatti")
    settings = Settings(common=CommonSettings(), store=store)
    with caplog.at_level(logging.WARNING, logger="vatti.service"):
        set_results_expiry(settings, DAY)
    (record,) = caplog.records
    assert record.getMessage().startswith("results.lifecycle_not_set store=s3://no-such-bucket")
    assert "NoSuchBucket" in record.getMessage()
    assert SECRET_ACCESS_KEY not in record.getMessage()
