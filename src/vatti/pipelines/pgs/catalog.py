"""Resolve PGS Catalog ids (scores, publications, traits) to harmonized scoring files on disk.

Cache layout (flat): ``<cache_dir>/<PGS id>_hmPOS_<build>.txt.gz``, e.g.
``cache/PGS000802_hmPOS_GRCh38.txt.gz``. A file already in the cache is used without network;
a missing one is found through the REST API (``score/{id}``) and downloaded from the FTP site,
checked against the ``.md5`` published next to it, and moved into place only once verified.
Publications (``publication/{PGP}``) and traits (``trait/{EFO}?include_children=1``) are
expanded to their score ids through the REST API, so they need the network.

Ids are checked against their patterns before any URL is built, and files are only ever
downloaded from below ``ftp_url``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from vatti.pipelines.errors import PipelineError
from vatti.pipelines.pgs.vocabulary import TARGET_BUILDS

if TYPE_CHECKING:
    import httpx

#: The ontologies of the Catalog's trait ids, as it spells them.
TRAIT_ONTOLOGIES = (
    "EFO", "MONDO", "HP", "Orphanet", "OBA", "GO", "NCIT", "CHEBI", "UBERON", "DOID", "MP", "CMO",
)  # fmt: skip
PGS_ID = re.compile(r"^PGS[0-9]{6}$")
PGP_ID = re.compile(r"^PGP[0-9]{6}$")
TRAIT_ID = re.compile(rf"^({'|'.join(TRAIT_ONTOLOGIES)})_[0-9]{{1,10}}$")
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_CHUNK = 1 << 16


class CatalogError(PipelineError):
    """Root of the errors about getting scoring files from the PGS Catalog."""

    code = "pgs_catalog_error"
    exit_code = 69  # EX_UNAVAILABLE


class InvalidCatalogId(CatalogError):
    """An id does not have the form of a PGS Catalog id (or the build is not one we serve)."""

    code = "pgs_catalog_invalid_id"
    exit_code = 2


class UnknownCatalogId(CatalogError):
    """The PGS Catalog does not know the id, or has no harmonized file for it."""

    code = "pgs_catalog_unknown_id"
    exit_code = 65  # EX_DATAERR


class CatalogUnavailable(CatalogError):
    """The PGS Catalog cannot be reached (or offline) and the file is not cached."""

    code = "pgs_catalog_unavailable"


class ChecksumMismatch(CatalogError):
    """A downloaded file does not match the md5 the catalog publishes for it."""

    code = "pgs_catalog_checksum"


def _check(ids: Iterable[str], pattern: re.Pattern[str], kind: str) -> list[str]:
    checked: list[str] = []
    for value in ids:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise InvalidCatalogId(f"{value!r} is not a valid {kind} id")
        checked.append(value)
    return checked


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


class CatalogId(NamedTuple):
    """A Catalog id and what it names: ``kind`` is ``pgs_id`` (a score), ``pgp_id`` (a
    publication) or ``trait_efo`` (a trait), pgsc_calc's parameter names."""

    kind: str
    id: str


_ANY_CASE = {
    "pgs_id": re.compile(PGS_ID.pattern, re.IGNORECASE),
    "pgp_id": re.compile(PGP_ID.pattern, re.IGNORECASE),
    "trait_efo": re.compile(TRAIT_ID.pattern, re.IGNORECASE),
}
_ONTOLOGY_NAMES = {name.lower(): name for name in TRAIT_ONTOLOGIES}


def parse_catalog_id(text: str) -> CatalogId | None:
    """The Catalog id ``text`` is, in any case, spelt as the Catalog spells it; ``None`` when it
    is no Catalog id.

    >>> parse_catalog_id("pgs001229"), parse_catalog_id(" PGP000001 ")
    (CatalogId(kind='pgs_id', id='PGS001229'), CatalogId(kind='pgp_id', id='PGP000001'))
    >>> parse_catalog_id("efo_0004611"), parse_catalog_id("ORPHANET_1234")
    (CatalogId(kind='trait_efo', id='EFO_0004611'), CatalogId(kind='trait_efo', id='Orphanet_1234'))
    >>> parse_catalog_id("PGS1229") is None, parse_catalog_id("scores.txt") is None
    (True, True)
    """
    value = text.strip()
    for kind, pattern in _ANY_CASE.items():
        if not pattern.match(value):
            continue
        if kind != "trait_efo":
            return CatalogId(kind, value.upper())
        ontology, _, number = value.partition("_")
        return CatalogId(kind, f"{_ONTOLOGY_NAMES[ontology.lower()]}_{number}")
    return None


def harmonized_name(pgs_id: str, build: str) -> str:
    """The FTP file name of a score's harmonized positions.

    >>> harmonized_name("PGS000001", "GRCh38")
    'PGS000001_hmPOS_GRCh38.txt.gz'
    """
    return f"{pgs_id}_hmPOS_{build}.txt.gz"


class Catalog:
    """A local cache of harmonized scoring files, filled from the PGS Catalog on demand."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        base_url: str,
        ftp_url: str = "https://ftp.ebi.ac.uk/pub/databases/spot/pgs/",
        offline: bool = False,
        client: httpx.Client | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.ftp_url = ftp_url if ftp_url.endswith("/") else ftp_url + "/"
        self.offline = offline
        self._client = client
        self._owns_client = client is None

    def resolve(
        self,
        *,
        pgs_ids: Sequence[str] = (),
        pgp_ids: Sequence[str] = (),
        trait_efos: Sequence[str] = (),
        build: str,
        efo_direct: bool = False,
    ) -> list[Path]:
        """Paths of the harmonized ``build`` files of all the ids, in order, without repeats.

        A trait stands for its scores and those of its child traits; with ``efo_direct``, for
        its own scores only (pgsc_calc's ``--efo_direct``)."""
        if build not in TARGET_BUILDS:
            raise InvalidCatalogId(f"unsupported genome build {build!r} (GRCh37 or GRCh38)")
        scores = _check(pgs_ids, PGS_ID, "PGS score")
        publications = _check(pgp_ids, PGP_ID, "PGS Catalog publication")
        traits = _check(trait_efos, TRAIT_ID, "trait ontology")
        for pgp in publications:
            scores.extend(self._publication_scores(pgp))
        for trait in traits:
            scores.extend(self._trait_scores(trait, direct=efo_direct))
        return [self._scoring_file(pgs_id, build) for pgs_id in _unique(scores)]

    # -- REST ---------------------------------------------------------------------------------

    def _get_json(self, path: str, accession: str) -> dict[str, Any]:
        if self.offline:
            raise CatalogUnavailable(
                f"{accession}: the PGS Catalog is needed to resolve it, but vatti is offline "
                f"(cache: {self.cache_dir})"
            )
        import httpx  # only when the catalog is asked (httpx imports rich, pygments, click)

        url = self.base_url + path
        try:
            response = self._http().get(url)
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(
                f"{accession}: the PGS Catalog at {self.base_url} cannot be reached "
                f"({type(exc).__name__}) and the file is not in the cache {self.cache_dir}"
            ) from exc
        if response.status_code == 404:
            raise UnknownCatalogId(f"{accession}: not found in the PGS Catalog")
        if response.status_code != 200:
            raise CatalogUnavailable(
                f"{accession}: the PGS Catalog answered HTTP {response.status_code} "
                f"(cache: {self.cache_dir})"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise CatalogUnavailable(f"{accession}: the PGS Catalog sent invalid JSON") from exc
        if not isinstance(body, dict) or not body:
            raise UnknownCatalogId(f"{accession}: not found in the PGS Catalog")
        return body

    def _publication_scores(self, pgp_id: str) -> list[str]:
        body = self._get_json(f"publication/{pgp_id}", pgp_id)
        groups = body.get("associated_pgs_ids")
        found: list[str] = []
        if isinstance(groups, dict):
            for ids in groups.values():
                found.extend(ids if isinstance(ids, list) else [])
        elif isinstance(groups, list):
            found.extend(groups)
        return _check(found, PGS_ID, f"PGS score (from {pgp_id})")

    def _trait_scores(self, trait: str, *, direct: bool) -> list[str]:
        children = 0 if direct else 1
        body = self._get_json(f"trait/{trait}?include_children={children}", trait)
        found: list[str] = []
        keys = (
            ["associated_pgs_ids"] if direct else ["associated_pgs_ids", "child_associated_pgs_ids"]
        )
        for key in keys:
            ids = body.get(key)
            if isinstance(ids, list):
                found.extend(ids)
        return _check(found, PGS_ID, f"PGS score (from {trait})")

    def _download_url(self, pgs_id: str, build: str) -> str:
        body = self._get_json(f"score/{pgs_id}", pgs_id)
        files = body.get("ftp_harmonized_scoring_files")
        entry = files.get(build) if isinstance(files, dict) else None
        url = entry.get("positions") if isinstance(entry, dict) else None
        name = harmonized_name(pgs_id, build)
        if not isinstance(url, str) or not url.endswith("/" + name):
            raise UnknownCatalogId(f"{pgs_id}: the PGS Catalog has no harmonized {build} file")
        if url.startswith(self.ftp_url):
            return url
        # Only ever download from below ftp_url: rebuild the URL from the FTP layout.
        return f"{self.ftp_url}scores/{pgs_id}/ScoringFiles/Harmonized/{name}"

    # -- files --------------------------------------------------------------------------------

    def _scoring_file(self, pgs_id: str, build: str) -> Path:
        target = self.cache_dir / harmonized_name(pgs_id, build)
        if target.is_file():
            return target
        url = self._download_url(pgs_id, build)
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        expected = self._remote_md5(url, pgs_id)
        self._download(url, target, expected, pgs_id)
        return target

    def _remote_md5(self, url: str, pgs_id: str) -> str:
        text = self._fetch_text(url + ".md5", pgs_id)
        token = text.split()[0] if text.split() else ""
        if not _MD5.fullmatch(token):
            raise CatalogUnavailable(f"{pgs_id}: the catalog's md5 file is not a checksum")
        return token.lower()

    def _fetch_text(self, url: str, pgs_id: str) -> str:
        import httpx

        try:
            response = self._http().get(url)
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(
                f"{pgs_id}: cannot download from {self.ftp_url} ({type(exc).__name__}); "
                f"the file is not in the cache {self.cache_dir}"
            ) from exc
        if response.status_code != 200:
            raise CatalogUnavailable(
                f"{pgs_id}: download of {url} failed with HTTP {response.status_code}"
            )
        return response.text

    def _download(self, url: str, target: Path, expected: str, pgs_id: str) -> None:
        """Stream ``url`` into a temporary file next to ``target``; rename it once verified."""
        import httpx

        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=self.cache_dir)
        temp = Path(temp_name)
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with os.fdopen(handle, "wb") as out, self._http().stream("GET", url) as response:
                if response.status_code != 200:
                    raise CatalogUnavailable(
                        f"{pgs_id}: download of {url} failed with HTTP {response.status_code}"
                    )
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
            actual = digest.hexdigest()
            if actual != expected:
                raise ChecksumMismatch(
                    f"{pgs_id}: the downloaded {target.name} has md5 {actual}, but the catalog "
                    f"publishes {expected}; the file was discarded"
                )
            os.replace(temp, target)
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(
                f"{pgs_id}: download from {self.ftp_url} failed ({type(exc).__name__}); "
                f"the file is not in the cache {self.cache_dir}"
            ) from exc
        finally:
            temp.unlink(missing_ok=True)

    def _http(self) -> httpx.Client:
        import httpx

        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(30.0, connect=10.0),
                follow_redirects=True,
                headers={"User-Agent": "vatti"},
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP client if this catalog created it."""
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None
