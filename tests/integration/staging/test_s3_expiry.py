"""The results areas' bucket lifecycle rule on a real S3 server (moto's, on loopback)."""

from __future__ import annotations

import pytest

from vatti.staging.s3_expiry import ensure_results_expiry
from vatti.testing.s3 import S3Server

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
