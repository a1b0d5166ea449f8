"""Construction from URLs; S3/GCS are only built, never contacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from vatti.errors import ConfigError
from vatti.staging.objects import ObjectStore

pytestmark = pytest.mark.unit


def test_file_url_creates_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    store = ObjectStore.from_url(root.as_uri())
    assert root.is_dir()
    assert store.url == root.as_uri()


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("s3://bucket/some/prefix", {"region": "eu-west-1", "skip_signature": True}),
        ("gs://bucket/prefix", {}),
    ],
)
def test_bucket_urls_build_without_network(url: str, options: dict[str, object]) -> None:
    store = ObjectStore.from_url(url, **options)
    assert store.url == url


def test_credentials_in_the_url_never_show() -> None:
    store = ObjectStore.from_url(
        "s3://AKIDEXAMPLE:SECRETKEY@bucket/p?token=tok", region="eu-west-1"
    )
    for text in (store.url, repr(store)):
        assert "SECRETKEY" not in text
        assert "tok" not in text


@pytest.mark.parametrize("url", ["ftp://host/x", "file://otherhost/x", "file:relative/x", "x"])
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        ObjectStore.from_url(url)


def test_unknown_options_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        ObjectStore.from_url("s3://bucket/p", no_such_option="x")
