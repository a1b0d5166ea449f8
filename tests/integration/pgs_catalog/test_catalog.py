"""The catalog client against a local HTTP server standing in for the PGS Catalog REST API and
its FTP site, serving a real harmonized scoring file of the shared data with its md5."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vatti.pipelines.pgs.catalog import (
    Catalog,
    CatalogUnavailable,
    ChecksumMismatch,
    InvalidCatalogId,
    UnknownCatalogId,
)
from vatti.pipelines.pgs.scorefile import read_scoring_file
from vatti.testing.catalog import CatalogServer, FakeCatalog
from vatti.testing.services import shared_pgs_data

pytestmark = pytest.mark.integration

CORE = "pygscatalog/pgscatalog.utils/packages/pgscatalog.core/tests/data"


def _shared() -> Path:
    return shared_pgs_data()


@pytest.fixture
def fake() -> Iterator[FakeCatalog]:
    server = CatalogServer()
    try:
        yield server.state
    finally:
        server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


@pytest.fixture(scope="module")
def scorefile() -> bytes:
    return (_shared() / CORE / "PGS000001_hmPOS_GRCh38.txt.gz").read_bytes()


def _catalog(fake: FakeCatalog, cache: Path, client: httpx.Client, **kw: bool) -> Catalog:
    return Catalog(
        cache, base_url=fake.url + "/rest/", ftp_url=fake.url + "/ftp/", client=client, **kw
    )


def test_download_verifies_and_caches(
    fake: FakeCatalog, scorefile: bytes, tmp_path: Path, client: httpx.Client
) -> None:
    fake.score("PGS000001", scorefile)
    cache = tmp_path / "cache"

    paths = _catalog(fake, cache, client).resolve(pgs_ids=["PGS000001"], build="GRCh38")

    assert paths == [cache / "PGS000001_hmPOS_GRCh38.txt.gz"]
    assert paths[0].read_bytes() == scorefile
    assert sorted(p.name for p in cache.iterdir()) == ["PGS000001_hmPOS_GRCh38.txt.gz"]
    assert read_scoring_file(paths[0], "GRCh38").variants.height == 77


def test_cache_hit_needs_no_server(
    fake: FakeCatalog, scorefile: bytes, tmp_path: Path, client: httpx.Client
) -> None:
    fake.score("PGS000001", scorefile)
    cache = tmp_path / "cache"
    first = _catalog(fake, cache, client).resolve(pgs_ids=["PGS000001"], build="GRCh38")
    count = len(fake.requests)

    again = _catalog(fake, cache, client).resolve(pgs_ids=["PGS000001"], build="GRCh38")
    offline = _catalog(fake, cache, client, offline=True)

    assert again == first == offline.resolve(pgs_ids=["PGS000001"], build="GRCh38")
    assert len(fake.requests) == count


def test_cache_hit_with_the_server_stopped(
    scorefile: bytes, tmp_path: Path, client: httpx.Client
) -> None:
    cache = tmp_path / "cache"
    server = CatalogServer()
    state = server.state
    state.score("PGS000001", scorefile)
    first = _catalog(state, cache, client).resolve(pgs_ids=["PGS000001"], build="GRCh38")
    server.stop()

    assert _catalog(state, cache, client).resolve(pgs_ids=["PGS000001"], build="GRCh38") == first
    with pytest.raises(CatalogUnavailable) as info:
        _catalog(state, cache, client).resolve(pgs_ids=["PGS000002"], build="GRCh38")
    assert "PGS000002" in str(info.value)
    assert str(cache) in str(info.value)


def test_bad_checksum_is_refused_and_nothing_is_cached(
    fake: FakeCatalog, scorefile: bytes, tmp_path: Path, client: httpx.Client
) -> None:
    fake.score("PGS000001", scorefile, md5="0" * 32)
    cache = tmp_path / "cache"

    with pytest.raises(ChecksumMismatch, match="PGS000001"):
        _catalog(fake, cache, client).resolve(pgs_ids=["PGS000001"], build="GRCh38")
    assert list(cache.iterdir()) == []


def test_unknown_id_is_a_clear_error(
    fake: FakeCatalog, tmp_path: Path, client: httpx.Client
) -> None:
    with pytest.raises(UnknownCatalogId, match="PGS999999: not found in the PGS Catalog"):
        _catalog(fake, tmp_path, client).resolve(pgs_ids=["PGS999999"], build="GRCh38")


@pytest.mark.parametrize(
    "ids",
    [
        {"pgs_ids": ["PGS1"]},
        {"pgs_ids": ["../../etc/passwd"]},
        {"pgp_ids": ["PGP000001/../x"]},
        {"trait_efos": ["EFO_0001?x=1"]},
    ],
)
def test_invalid_ids_are_refused_before_any_request(
    fake: FakeCatalog, tmp_path: Path, client: httpx.Client, ids: dict[str, list[str]]
) -> None:
    with pytest.raises(InvalidCatalogId):
        _catalog(fake, tmp_path, client).resolve(build="GRCh38", **ids)
    assert fake.requests == []


def test_offline_without_cache_names_id_and_cache(
    fake: FakeCatalog, tmp_path: Path, client: httpx.Client
) -> None:
    with pytest.raises(CatalogUnavailable) as info:
        _catalog(fake, tmp_path, client, offline=True).resolve(
            pgs_ids=["PGS000001"], build="GRCh38"
        )
    assert "PGS000001" in str(info.value)
    assert str(tmp_path) in str(info.value)
    assert fake.requests == []


def test_publication_and_trait_expand_to_scores(
    fake: FakeCatalog, scorefile: bytes, tmp_path: Path, client: httpx.Client
) -> None:
    second = (_shared() / CORE / "PGS000002_hmPOS_GRCh38.txt.gz").read_bytes()
    fake.score("PGS000001", scorefile)
    fake.score("PGS000002", second)
    fake.json(
        "/rest/publication/PGP000001",
        {"associated_pgs_ids": {"development": ["PGS000001"], "evaluation": ["PGS000002"]}},
    )
    fake.json(
        "/rest/trait/EFO_0000305?include_children=1",
        {"associated_pgs_ids": ["PGS000002"], "child_associated_pgs_ids": ["PGS000001"]},
    )
    catalog = _catalog(fake, tmp_path, client)

    by_pgp = catalog.resolve(pgp_ids=["PGP000001"], build="GRCh38")
    by_trait = catalog.resolve(trait_efos=["EFO_0000305"], build="GRCh38")
    both = catalog.resolve(pgs_ids=["PGS000002"], pgp_ids=["PGP000001"], build="GRCh38")

    names = ["PGS000001_hmPOS_GRCh38.txt.gz", "PGS000002_hmPOS_GRCh38.txt.gz"]
    assert [p.name for p in by_pgp] == names
    assert [p.name for p in by_trait] == names[::-1]
    assert [p.name for p in both] == names[::-1]
    assert by_pgp[1].read_bytes() == second


def test_download_url_outside_the_ftp_site_is_not_followed(
    fake: FakeCatalog, scorefile: bytes, tmp_path: Path, client: httpx.Client
) -> None:
    fake.score("PGS000001", scorefile)
    fake.json(
        "/rest/score/PGS000001",
        {
            "ftp_harmonized_scoring_files": {
                "GRCh38": {"positions": "http://elsewhere.invalid/PGS000001_hmPOS_GRCh38.txt.gz"}
            }
        },
    )
    paths = _catalog(fake, tmp_path, client).resolve(pgs_ids=["PGS000001"], build="GRCh38")
    assert paths[0].read_bytes() == scorefile
    assert not any("elsewhere" in r for r in fake.requests)
