"""Inputs from the transfer collection over HTTP, crypt4gh-decrypted with keys from the key
handler: the loopback stand-ins (``standins``) play the collection, the OAuth2 token endpoint and
the key handler; every failure is one of step ``inputs`` with its own code and no secret."""

from __future__ import annotations

import hashlib
import logging
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from vatti.config import SourceSettings
from vatti.domain.inputs import DeclaredInput, KeyRef
from vatti.pipelines.errors import StepFailed
from vatti.staging.sources import Sources, stage_inputs
from vatti.testing.c4gh import KeyPair, encrypt, new_keypair
from vatti.testing.standins import KEY_WRAP_PASSWORD, SECRETS, StandIns

pytestmark = pytest.mark.integration

REF = KeyRef("81d5c400-21b4-4e88-8208-8d64c9920283", "1")
MARKER = b"##vatti-marker=clear text that must stay in the scratch\n"
CLEAR = MARKER + random.Random(3).randbytes(300_000)  # several 64 KiB segments
DIR = "user@ebi.ac.uk/run 1"


@pytest.fixture(scope="module")
def sealed(pair: KeyPair) -> bytes:
    return encrypt(CLEAR, [pair.public])


@pytest.fixture(scope="module")
def wrapped(pair: KeyPair) -> str:
    return pair.locked(KEY_WRAP_PASSWORD)


@pytest.fixture
def collection(standins: StandIns, wrapped: str, sealed: bytes) -> StandIns:
    standins.state.files[f"{DIR}/cohort.pgen.c4gh"] = sealed
    standins.state.files[f"{DIR}/cohort.psam"] = b"#IID\ns1\n"
    standins.state.keys[(REF.secret_id, REF.version)] = wrapped
    return standins


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog
    for secret in SECRETS:
        assert secret not in caplog.text


def encrypted(
    size: int | None = None, sha256: str | None = None, **fields: object
) -> DeclaredInput:
    location = str(fields.pop("location", f"{DIR}/cohort.pgen.c4gh"))
    return DeclaredInput(
        "cohort.pgen",
        location,
        size,
        sha256,
        from_collection=True,
        key_ref=REF,
        **fields,  # type: ignore[arg-type]
    )


def stage(
    standins: StandIns, tmp_path: Path, *declared: DeclaredInput, **env: str
) -> dict[str, Path]:
    settings = SourceSettings.from_environment(environ=standins.env(**env))
    sources = Sources.from_settings(settings, input_root=None)
    try:
        return stage_inputs(declared, tmp_path / "inputs", sources)
    finally:
        sources.close()


def failure(standins: StandIns, tmp_path: Path, *declared: DeclaredInput, **env: str) -> StepFailed:
    with pytest.raises(StepFailed) as info:
        stage(standins, tmp_path, *declared, **env)
    failed = info.value
    assert failed.step == "inputs"
    for secret in (*SECRETS, *standins.state.issued):
        assert secret not in failed.message
    written = [p for p in (tmp_path / "inputs").rglob("*") if p.is_file()]
    assert written == [], "a partly written file was left behind"
    return failed


def test_an_encrypted_collection_file_is_decrypted_into_the_scratch(
    collection: StandIns, tmp_path: Path, sealed: bytes, logs: pytest.LogCaptureFixture
) -> None:
    declared = encrypted(len(sealed), hashlib.sha256(sealed).hexdigest())
    plain = DeclaredInput("cohort.psam", f"{DIR}/cohort.psam", 8, from_collection=True)

    staged = stage(collection, tmp_path, declared, plain)

    assert staged["cohort.pgen"].name == "cohort.pgen"
    assert staged["cohort.pgen"].read_bytes() == CLEAR
    assert staged["cohort.psam"].read_bytes() == b"#IID\ns1\n"
    files = sorted(p.name for p in (tmp_path / "inputs").rglob("*") if p.is_file())
    assert files == ["cohort.pgen", "cohort.psam"]  # no cipher text, no partial file
    state = collection.state
    assert len(state.requests("token")) == 1  # one token for both files
    (token,) = state.issued
    assert {s.authorization for s in state.requests("collection")} == {f"Bearer {token}"}
    assert [s.path for s in state.requests("keys")] == [
        f"/keys/key/{REF.secret_id}/version/{REF.version}"
    ]
    assert token not in logs.text


@pytest.mark.parametrize("ranges", [True, False])
def test_a_broken_download_resumes(
    collection: StandIns, tmp_path: Path, sealed: bytes, ranges: bool
) -> None:
    """With ranges, from where it broke; without, reading past what it had."""
    collection.state.ranges = ranges
    collection.state.break_after[f"{DIR}/cohort.pgen.c4gh"] = 100_000
    staged = stage(collection, tmp_path, encrypted(len(sealed)))
    assert staged["cohort.pgen"].read_bytes() == CLEAR
    gets = collection.state.requests("collection")
    assert len(gets) == 2
    assert gets[1].range == "bytes=100000-"


def test_transient_errors_are_retried(collection: StandIns, tmp_path: Path) -> None:
    collection.state.unavailable = 2
    assert stage(collection, tmp_path, encrypted())["cohort.pgen"].read_bytes() == CLEAR
    assert len(collection.state.requests("collection")) == 3


def test_a_token_that_expired_is_replaced_once(collection: StandIns, tmp_path: Path) -> None:
    collection.state.expire_after = 1  # the token stops working after the first file
    psam = DeclaredInput("p", f"{DIR}/cohort.psam", from_collection=True)
    staged = stage(collection, tmp_path, encrypted(), psam)
    assert staged["p"].read_bytes() == b"#IID\ns1\n"
    assert len(collection.state.requests("token")) == 2
    first, second = collection.state.issued
    used = [s.authorization for s in collection.state.requests("collection")]
    assert used == [f"Bearer {first}", f"Bearer {first}", f"Bearer {second}"]


def test_a_same_host_redirect_is_followed(collection: StandIns, tmp_path: Path) -> None:
    collection.state.redirects["moved/cohort.pgen.c4gh"] = f"/collection/{DIR}/cohort.pgen.c4gh"
    staged = stage(collection, tmp_path, encrypted(location="moved/cohort.pgen.c4gh"))
    assert staged["cohort.pgen"].read_bytes() == CLEAR


def test_a_redirect_to_another_host_is_refused_and_gets_no_token(
    collection: StandIns, tmp_path: Path
) -> None:
    elsewhere = f"http://localhost:{collection.port}/collection/{DIR}/cohort.pgen.c4gh"
    collection.state.redirects[f"{DIR}/cohort.pgen.c4gh"] = elsewhere
    failed = failure(collection, tmp_path, encrypted())
    assert failed.code == "input_refused"
    assert "redirected to another host, http://localhost" in failed.message
    assert [s.host for s in collection.state.requests("collection")] == [
        f"127.0.0.1:{collection.port}"
    ]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("setup", "env", "code", "what"),
    [
        (
            None,
            {"VATTI_TRANSFER_BASE_URL": "http://127.0.0.1:{port}/c/"},
            "input_unreachable",
            "cannot be reached",
        ),
        ("collection_status=503", {}, "input_unreachable", "HTTP 503"),
        (
            None,
            {"VATTI_TRANSFER_TOKEN_URL": "http://127.0.0.1:{port}/t"},
            "input_unreachable",
            "token endpoint",
        ),
        (
            None,
            {"VATTI_TRANSFER_CLIENT_SECRET": "not-the-secret"},
            "transfer_token_refused",
            "HTTP 401",
        ),
        ("token_status=400", {}, "transfer_token_refused", "refused the client credentials"),
        ("collection_status=401", {}, "input_unauthorized", "HTTP 401"),
        ("collection_status=403", {}, "input_unauthorized", "HTTP 403"),
        ("missing", {}, "input_missing", "no such file"),
        ("key_status=401", {}, "key_unauthorized", "refused its credentials"),
        ("key_status=404", {}, "key_not_found", f"no secret key {REF.secret_id} version 1"),
        ("key_status=500", {}, "key_handler_failed", "HTTP 500"),
        (None, {"VATTI_KEY_HANDLER_PASSWORD": "nope"}, "key_unauthorized", "HTTP 401"),
        (None, {"VATTI_KEY_HANDLER_KEY_PASSWORD": "nope"}, "key_invalid", "does not open"),
        ("other_key", {}, "decrypt_wrong_key", "does not open with the secret key"),
        ("truncated", {}, "input_corrupt", "truncated"),
        ("corrupted", {}, "input_corrupt", "fails authentication"),
        ("not_c4gh", {}, "input_corrupt", "not a readable crypt4gh header"),
    ],
)
def test_each_failure_has_its_code(
    collection: StandIns,
    tmp_path: Path,
    sealed: bytes,
    logs: pytest.LogCaptureFixture,
    setup: str | None,
    env: dict[str, str],
    code: str,
    what: str,
) -> None:
    state, name = collection.state, f"{DIR}/cohort.pgen.c4gh"
    if setup is not None and "=" in setup:
        attribute, _, value = setup.partition("=")
        setattr(state, attribute, int(value))
    elif setup == "missing":
        del state.files[name]
    elif setup == "other_key":
        state.files[name] = encrypt(CLEAR, [new_keypair().public])
    elif setup == "truncated":
        state.files[name] = sealed[:-5000]
    elif setup == "corrupted":
        state.files[name] = sealed[:200_000] + bytes([sealed[200_000] ^ 0x40]) + sealed[200_001:]
    elif setup == "not_c4gh":
        state.files[name] = CLEAR
    port = str(closed_port())
    failed = failure(
        collection, tmp_path, encrypted(), **{k: v.format(port=port) for k, v in env.items()}
    )
    assert failed.code == code
    assert what in failed.message


@pytest.mark.parametrize(("declared", "has"), [(1000, "has 300"), (400_000, "has 300")])
def test_a_size_other_than_declared_fails(
    collection: StandIns, tmp_path: Path, sealed: bytes, declared: int, has: str
) -> None:
    failed = failure(collection, tmp_path, encrypted(declared))
    assert failed.code == "input_mismatch"
    assert f"has {len(sealed)} bytes, {declared} were declared" in failed.message


def test_a_checksum_other_than_declared_fails(
    collection: StandIns, tmp_path: Path, sealed: bytes
) -> None:
    failed = failure(collection, tmp_path, encrypted(len(sealed), "0" * 64))
    assert (failed.code, failed.message) == (
        "input_mismatch",
        f"input '{DIR}/cohort.pgen.c4gh' does not match its declared SHA-256",
    )


def test_no_room_in_the_scratch_fails_before_any_download(
    collection: StandIns, tmp_path: Path
) -> None:
    failed = failure(collection, tmp_path, encrypted(1 << 55))
    assert failed.code == "scratch_full"
    assert collection.state.seen == []


def test_an_https_input_off_the_collection_is_refused(collection: StandIns, tmp_path: Path) -> None:
    other = DeclaredInput("x", "https://data.example/cohort.pgen.c4gh", key_ref=REF)
    failed = failure(collection, tmp_path, other)
    assert failed.code == "input_refused"
    assert "not on the transfer collection" in failed.message
    assert (
        collection.state.seen[:1] == [s for s in collection.state.seen if s.service == "keys"][:1]
    )
    assert collection.state.requests("collection") == []
