"""What obstore is handed for s3:// and gs:// URLs: every key explicit, credentials only from
the settings, no metadata-server lookup (no store is contacted here; the S3 side also runs
against a real server in tests/integration/staging)."""

from __future__ import annotations

import pytest
from obstore.store import GCSStore
from pydantic import SecretStr

from vatti.config import StoreSettings
from vatti.errors import ConfigError
from vatti.staging.buckets import bucket_config

pytestmark = pytest.mark.unit


def test_s3_on_defaults_is_anonymous_on_the_aws_regional_endpoint() -> None:
    bucket = bucket_config("s3://vatti-work/deploy/", StoreSettings())
    assert (bucket.scheme, bucket.bucket, bucket.prefix) == ("s3", "vatti-work", "deploy")
    assert bucket.config == {
        "region": "us-east-1",
        "endpoint": "https://s3.us-east-1.amazonaws.com",
        "aws_endpoint_url_s3": "https://s3.us-east-1.amazonaws.com",
        "virtual_hosted_style_request": False,
        # no credentials configured: requests are unsigned, so none is looked up anywhere
        "skip_signature": True,
    }
    assert bucket.client_options == {"allow_http": False}
    assert bucket.credentials is None


def test_s3_with_an_endpoint_and_keys_signs_with_exactly_those_keys() -> None:
    settings = StoreSettings(
        s3_endpoint="http://127.0.0.1:9000/",
        s3_region="eu-north-1",
        s3_access_key_id="AKIDEXAMPLE",
        s3_secret_access_key=SecretStr("wJalrXUtnFEMI"),
        s3_session_token=SecretStr("FwoGZXIvYXdz"),
    )
    bucket = bucket_config("s3://vatti-results", settings)
    assert bucket.prefix is None
    assert bucket.config == {
        "region": "eu-north-1",
        "endpoint": "http://127.0.0.1:9000",
        "aws_endpoint_url_s3": "http://127.0.0.1:9000",
        "virtual_hosted_style_request": False,
        "skip_signature": False,
    }
    assert bucket.client_options == {"allow_http": True}
    assert bucket.credentials is not None
    assert bucket.credentials() == {
        "access_key_id": "AKIDEXAMPLE",
        "secret_access_key": "wJalrXUtnFEMI",
        "token": "FwoGZXIvYXdz",
        "expires_at": None,
    }
    for secret in ("wJalrXUtnFEMI", "FwoGZXIvYXdz"):
        assert secret not in repr(bucket)
        assert secret not in repr(settings)


def test_virtual_hosted_s3_puts_the_bucket_in_the_endpoint() -> None:
    settings = StoreSettings(s3_endpoint="https://objects.example.org", s3_path_style=False)
    bucket = bucket_config("s3://vatti-work/p", settings)
    assert bucket.config["endpoint"] == "https://vatti-work.objects.example.org"
    assert bucket.config["virtual_hosted_style_request"] is True


def test_gcs_with_a_service_account_key() -> None:
    key = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----..."}'
    settings = StoreSettings(gcs_service_account_key=SecretStr(key))
    bucket = bucket_config("gs://vatti-results/prod", settings)
    assert (bucket.scheme, bucket.bucket, bucket.prefix) == ("gs", "vatti-results", "prod")
    assert bucket.config == {
        "base_url": "https://storage.googleapis.com",
        "skip_signature": False,
        "service_account_key": key,
    }
    assert bucket.client_options == {"allow_http": False}
    assert "PRIVATE KEY" not in repr(bucket)


def test_gcs_without_a_key_is_anonymous_and_obstore_takes_the_configuration() -> None:
    settings = StoreSettings(gcs_endpoint="http://127.0.0.1:4443")
    bucket = bucket_config("gs://public-bucket", settings)
    assert bucket.config == {"base_url": "http://127.0.0.1:4443", "skip_signature": True}
    assert bucket.client_options == {"allow_http": True}
    built = GCSStore(bucket.bucket, config=bucket.config, client_options=bucket.client_options)  # type: ignore[arg-type]
    assert built.config == {
        "bucket": "public-bucket",
        "base_url": "http://127.0.0.1:4443",
        "skip_signature": "true",
    }


@pytest.mark.parametrize(
    "url", ["s3://bucket:9000/p", "gs://b/p#frag", "s3://b/a//b", "memory:///x", "s3://"]
)
def test_other_bucket_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        bucket_config(url, StoreSettings())
