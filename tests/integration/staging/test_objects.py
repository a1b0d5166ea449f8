"""ObjectStore against a real local directory (file://)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from vatti.staging.errors import InvalidKey, ObjectNotFound
from vatti.staging.objects import ObjectStore

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore.from_url((tmp_path / "objects").as_uri())


def test_bytes_round_trip_land_under_the_root(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("jobs/j1/work/spec.json", b'{"a": 1}')
    assert store.get_bytes("jobs/j1/work/spec.json") == b'{"a": 1}'
    assert (tmp_path / "objects/jobs/j1/work/spec.json").read_bytes() == b'{"a": 1}'
    assert store.list("jobs/j1/") == [("jobs/j1/work/spec.json", 8)]


def test_missing_objects_raise_object_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound):
        store.get_bytes("nope")
    with pytest.raises(ObjectNotFound):
        store.open_stream("nope")
    assert list(tmp_path.iterdir()) == [tmp_path / "objects"]


def test_big_file_round_trips_through_files_and_streams(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(3 << 20) * 7  # 21 MiB: several chunks, multipart
    src.write_bytes(data)
    store.put_file("jobs/j1/results/big.bin", src)

    digest = hashlib.sha256()
    chunks = 0
    for chunk in store.open_stream("jobs/j1/results/big.bin"):
        digest.update(chunk)
        chunks += 1
    assert digest.digest() == hashlib.sha256(data).digest()
    assert chunks > 1


def test_list_is_by_whole_segments_with_sizes(store: ObjectStore) -> None:
    store.put_bytes("jobs/ab/work/a", b"1")
    store.put_bytes("jobs/ab/results/b", b"22")
    store.put_bytes("jobs/abc/work/c", b"333")
    assert store.list("jobs/ab/") == [("jobs/ab/results/b", 2), ("jobs/ab/work/a", 1)]
    assert store.list("jobs/ab") == store.list("jobs/ab/")
    assert store.list("jobs/none/") == []


def test_delete_prefix_is_idempotent_and_leaves_no_empty_dirs(
    store: ObjectStore, tmp_path: Path
) -> None:
    for i in range(5):
        store.put_bytes(f"jobs/j1/work/d{i}/f", b"x")
    store.put_bytes("jobs/j1/results/keep", b"x")
    assert store.delete_prefix("jobs/j1/work/") == 5
    assert store.delete_prefix("jobs/j1/work/") == 0
    assert store.list("jobs/") == [("jobs/j1/results/keep", 1)]
    assert not (tmp_path / "objects/jobs/j1/work").exists()


def test_delete_of_a_missing_object_is_not_an_error(store: ObjectStore) -> None:
    store.delete("jobs/j1/nothing")


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "jobs/../../x"])
def test_unsafe_keys_never_reach_the_disk(store: ObjectStore, tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        store.delete_prefix(key)
    assert list(tmp_path.rglob("*")) == [tmp_path / "objects"]
