"""One object-store contract, run on every backend: a local directory (file://), memory://, and
a real S3 server (moto's, on loopback) for s3://."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from vatti.config import StoreSettings
from vatti.staging.objects import ObjectStore
from vatti.testing.c4gh import KeyPair, new_keypair

BACKENDS = ("file", "memory", "s3")


@dataclass
class Backend:
    kind: str
    settings: StoreSettings
    #: a store URL per name ("work", "results", ...): distinct directories, or buckets
    urls: dict[str, str]

    def open(self, name: str = "work") -> ObjectStore:
        return ObjectStore.from_url(self.urls[name], self.settings)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    names = ("work", "results", "work-other")
    if request.param == "file":
        urls = {n: (tmp_path / "stores" / n).as_uri() for n in names}
        return Backend("file", StoreSettings(), urls)
    if request.param == "memory":
        return Backend("memory", StoreSettings(), dict.fromkeys(names, "memory:///"))
    server = request.getfixturevalue("s3_server")
    server.create_bucket("vatti-work")
    server.create_bucket("vatti-results")
    urls = {
        "work": "s3://vatti-work/deploy",
        "results": "s3://vatti-results/deploy",
        # the same bucket, a prefix beginning like the first one's
        "work-other": "s3://vatti-work/deploy-other",
    }
    return Backend("s3", server.settings(), urls)


@pytest.fixture
def store(backend: Backend) -> ObjectStore:
    return backend.open("work")


@pytest.fixture(scope="module")
def pair() -> KeyPair:
    """A crypt4gh key pair (one per test module)."""
    return new_keypair()
