"""Construction from URLs; S3/GCS are only built, never contacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from vatti.config import StoreSettings
from vatti.errors import ConfigError
from vatti.staging.objects import ObjectStore

pytestmark = pytest.mark.unit


def test_file_url_creates_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    store = ObjectStore.from_url(root.as_uri())
    assert root.is_dir()
    assert store.url == root.as_uri()


@pytest.mark.parametrize("url", ["s3://bucket/some/prefix", "gs://bucket/prefix"])
def test_bucket_urls_build_without_network(url: str) -> None:
    settings = StoreSettings(s3_endpoint="http://127.0.0.1:9", s3_region="eu-west-1")
    store = ObjectStore.from_url(url, settings)
    assert store.url == url


@pytest.mark.parametrize(
    "url", ["s3://AKIDEXAMPLE:SECRETKEY@bucket/p", "s3://bucket/p?token=SECRETKEY"]
)
def test_credentials_in_the_url_are_refused_without_showing_them(url: str) -> None:
    with pytest.raises(ConfigError, match="VATTI_S3_") as caught:
        ObjectStore.from_url(url)
    assert "SECRETKEY" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "file://otherhost/x", "file:relative/x", "x", "s3:///p", "s3://b/../x"]
)
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        ObjectStore.from_url(url)
