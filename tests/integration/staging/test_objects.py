"""The ObjectStore contract on every backend (file://, memory://, s3:// on a real S3 server)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from tests.integration.staging.conftest import Backend

from vatti.staging import objects
from vatti.staging.errors import InvalidKey, ObjectNotFound, StorageError
from vatti.staging.objects import ObjectStore
from vatti.testing.s3 import S3Server

pytestmark = pytest.mark.integration


def test_bytes_round_trip(store: ObjectStore) -> None:
    store.put_bytes("jobs/j1/work/spec.json", b'{"a": 1}')
    assert store.get_bytes("jobs/j1/work/spec.json") == b'{"a": 1}'
    assert store.list("jobs/j1/") == [("jobs/j1/work/spec.json", 8)]
    store.put_bytes("jobs/j1/work/spec.json", b"{}")  # overwrites
    assert store.get_bytes("jobs/j1/work/spec.json") == b"{}"


def test_missing_objects_raise_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.get_bytes("nope")
    with pytest.raises(ObjectNotFound):
        store.open_stream("nope")
    assert store.list("jobs/") == []


def test_big_file_round_trips_through_files_and_streams(
    backend: Backend, store: ObjectStore, tmp_path: Path
) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(3 << 20) * 7  # 21 MiB: several chunks, multipart
    src.write_bytes(data)
    store.put_file("results/j1/outputs/big.bin", src)

    digest = hashlib.sha256()
    chunks = 0
    for chunk in store.open_stream("results/j1/outputs/big.bin"):
        digest.update(chunk)
        chunks += 1
    assert digest.digest() == hashlib.sha256(data).digest()
    assert chunks > 1 or backend.kind == "memory"  # memory:// holds it whole anyway
    assert store.list("results/j1/") == [("results/j1/outputs/big.bin", len(data))]


def test_list_is_by_whole_segments_with_sizes(store: ObjectStore) -> None:
    store.put_bytes("jobs/ab/work/a", b"1")
    store.put_bytes("jobs/ab/logs/b", b"22")
    store.put_bytes("jobs/abc/work/c", b"333")
    assert store.list("jobs/ab/") == [("jobs/ab/logs/b", 2), ("jobs/ab/work/a", 1)]
    assert store.list("jobs/ab") == store.list("jobs/ab/")
    assert store.list("jobs/none/") == []
    assert store.list_dirs("jobs/") == ["ab", "abc"]
    assert store.list_dirs("jobs/ab") == ["logs", "work"]
    assert store.list_dirs("results/") == []


def test_delete_prefix_is_idempotent_and_stays_in_its_prefix(store: ObjectStore) -> None:
    for i in range(5):
        store.put_bytes(f"jobs/j1/work/d{i}/f", b"x")
    store.put_bytes("jobs/j1/logs/keep", b"x")
    store.put_bytes("jobs/j1/workshop", b"x")  # shares the text of the prefix, not its segment
    assert store.delete_prefix("jobs/j1/work/") == 5
    assert store.delete_prefix("jobs/j1/work/") == 0
    assert store.list("jobs/") == [("jobs/j1/logs/keep", 1), ("jobs/j1/workshop", 1)]


def test_delete_prefix_deletes_more_than_one_batch(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(objects, "DELETE_BATCH", 3)  # S3's is 1000 keys per request
    for i in range(7):
        store.put_bytes(f"jobs/j1/work/{i}", b"")
    assert store.delete_prefix("jobs/j1/") == 7
    assert store.list("jobs/") == []


def test_delete_of_a_missing_object_is_not_an_error(store: ObjectStore) -> None:
    store.delete("jobs/j1/nothing")


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "jobs/../../x"])
def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        store.delete_prefix(key)
    assert store.list_dirs("jobs/") == []


# not memory://: each memory:// store is a world of its own, there are no sibling prefixes
@pytest.mark.parametrize("backend", ["file", "s3"], indirect=True)
def test_stores_at_sibling_prefixes_do_not_see_each_other(backend: Backend) -> None:
    one, other = backend.open("work"), backend.open("work-other")
    one.put_bytes("jobs/j1/work/spec.json", b"1")
    other.put_bytes("jobs/j1/work/spec.json", b"2")
    assert one.delete_prefix("jobs/") == 1
    assert other.get_bytes("jobs/j1/work/spec.json") == b"2"


# -- what only one backend shows ------------------------------------------------------------------


def test_file_objects_land_under_the_root_and_leave_no_empty_dirs(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    store = ObjectStore.from_url(root.as_uri())
    store.put_bytes("jobs/j1/work/spec.json", b"{}")
    assert (root / "jobs/j1/work/spec.json").read_bytes() == b"{}"
    with pytest.raises(InvalidKey):
        store.put_bytes("../escape", b"x")
    store.delete_prefix("jobs/j1/work/")
    assert not (root / "jobs/j1/work").exists()
    assert not (tmp_path / "escape").exists()


def test_s3_credentials_are_what_reads_private_objects(s3_server: S3Server) -> None:
    s3_server.create_bucket("vatti-work")
    signed = ObjectStore.from_url("s3://vatti-work/p", s3_server.settings())
    signed.put_bytes("jobs/j1/work/spec.json", b"{}")
    anonymous = s3_server.settings(s3_access_key_id=None, s3_secret_access_key=None)
    with pytest.raises(StorageError) as caught:
        ObjectStore.from_url("s3://vatti-work/p", anonymous).get_bytes("jobs/j1/work/spec.json")
    assert not isinstance(caught.value, ObjectNotFound)


def test_s3_goes_only_where_the_settings_say(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_* variables of the process neither redirect requests nor bring other credentials."""
    s3_server.create_bucket("vatti-work")
    nowhere = "http://127.0.0.1:9"  # nothing listens on the discard port
    for name in (
        "AWS_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_METADATA_ENDPOINT",
    ):
        monkeypatch.setenv(name, nowhere)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-token-that-would-break-the-signature")
    monkeypatch.setenv("AWS_ALLOW_HTTP", "false")
    store = ObjectStore.from_url("s3://vatti-work/p", s3_server.settings())
    store.put_bytes("k", b"v")
    assert store.get_bytes("k") == b"v"
    assert s3_server.keys("vatti-work") == ["p/k"]


def test_a_missing_bucket_is_a_storage_error_naming_the_key_not_the_secret(
    s3_server: S3Server,
) -> None:
    store = ObjectStore.from_url("s3://no-such-bucket/p", s3_server.settings())
    with pytest.raises(StorageError) as caught:
        store.put_bytes("jobs/j1/work/spec.json", b"{}")
    assert "jobs/j1/work/spec.json" in caught.value.message
    assert "vatti-test-secret" not in caught.value.message
