"""Declared inputs staged into a job's scratch: local paths under the input root, verified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import SecretStr

from vatti.domain.inputs import DeclaredInput
from vatti.pipelines.errors import StepFailed
from vatti.staging.secret_keys import Crypt4ghKeyFormat, KeyFile
from vatti.staging.sources import Sources, stage_inputs
from vatti.testing.c4gh import encrypt, new_keypair

pytestmark = pytest.mark.unit


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "in" / "genomes").mkdir(parents=True)
    (tmp_path / "in" / "genomes" / "c.pgen").write_bytes(b"pgen")
    (tmp_path / "in" / "scores.txt").write_bytes(b"score")
    (tmp_path / "secret.txt").write_text("not yours")
    (tmp_path / "scratch").mkdir()
    return tmp_path


def stage(root: Path, *declared: DeclaredInput) -> dict[str, Path]:
    return stage_inputs(declared, root / "scratch" / "inputs", Sources(input_root=root / "in"))


def refusal(root: Path, declared: DeclaredInput) -> StepFailed:
    with pytest.raises(StepFailed) as info:
        stage(root, declared)
    assert info.value.step == "inputs"
    return info.value


def test_local_inputs_appear_in_scratch_under_their_names(root: Path) -> None:
    digest = hashlib.sha256(b"pgen").hexdigest()
    staged = stage(
        root,
        DeclaredInput("geno", "genomes/c.pgen", size=4, sha256=digest),
        DeclaredInput("score", "scores.txt"),
    )
    assert set(staged) == {"geno", "score"}
    for key, name, data in (("geno", "c.pgen", b"pgen"), ("score", "scores.txt", b"score")):
        assert staged[key].name == name
        assert staged[key].is_relative_to(root / "scratch" / "inputs")
        assert staged[key].read_bytes() == data


def test_the_same_file_twice_gets_two_places(root: Path) -> None:
    staged = stage(root, DeclaredInput("a", "scores.txt"), DeclaredInput("b", "./scores.txt"))
    assert staged["a"] != staged["b"]
    assert staged["a"].read_bytes() == staged["b"].read_bytes()


@pytest.mark.parametrize("location", ["../secret.txt", "/etc/passwd", "genomes/../../secret.txt"])
def test_nothing_outside_the_input_root(root: Path, location: str) -> None:
    failure = refusal(root, DeclaredInput("x", location))
    assert failure.code == "input_refused"
    assert "outside the input root" in failure.message


def test_a_symlink_out_of_the_root_is_refused(root: Path) -> None:
    (root / "in" / "link.txt").symlink_to(root / "secret.txt")
    assert refusal(root, DeclaredInput("x", "link.txt")).code == "input_refused"


def test_missing_file(root: Path) -> None:
    failure = refusal(root, DeclaredInput("x", "genomes/none.pgen"))
    assert (failure.code, failure.message) == (
        "input_missing",
        "input file 'genomes/none.pgen' does not exist",
    )


def test_no_input_root_reads_no_local_file(root: Path) -> None:
    with pytest.raises(StepFailed, match="reads no local files") as info:
        stage_inputs([DeclaredInput("x", "scores.txt")], root / "scratch" / "in", Sources())
    assert info.value.code == "input_refused"


@pytest.mark.parametrize(
    ("declared", "what"),
    [
        (DeclaredInput("x", "scores.txt", size=99), "has 5 bytes, 99 were declared"),
        (DeclaredInput("x", "scores.txt", sha256="0" * 64), "does not match its declared SHA-256"),
    ],
)
def test_declared_size_and_checksum_are_verified(
    root: Path, declared: DeclaredInput, what: str
) -> None:
    failure = refusal(root, declared)
    assert failure.code == "input_mismatch"
    assert what in failure.message


@pytest.mark.parametrize(
    ("declared", "code", "what"),
    [
        (DeclaredInput("x", "s3://bucket/c.pgen"), "input_refused", "no bucket settings"),
        (
            DeclaredInput("x", "ftp://data.example/c.pgen"),
            "input_refused",
            "ftp:// sources are not available here (inputs are paths under the input root, "
            "https://, s3://, gs:// URLs)",
        ),
        (
            DeclaredInput("x", "https://data.example/c.pgen"),
            "input_refused",
            "set VATTI_TRANSFER_BASE_URL",
        ),
        (
            DeclaredInput("x", "u/c.pgen", from_collection=True),
            "input_refused",
            "set VATTI_TRANSFER_BASE_URL",
        ),
        (DeclaredInput("x", "c.pgen.c4gh"), "key_unavailable", "no crypt4gh secret key"),
    ],
)
def test_sources_not_configured_are_refused_clearly(
    root: Path, declared: DeclaredInput, code: str, what: str
) -> None:
    failure = refusal(root, declared)
    assert failure.code == code
    assert what in failure.message


def test_a_local_crypt4gh_file_is_decrypted_into_the_scratch_under_its_plain_name(
    root: Path,
) -> None:
    pair = new_keypair()
    clear = b"##fileformat=VCFv4.2\n" * 10_000  # more than one 64 KiB segment
    sealed = encrypt(clear, [pair.public])
    (root / "in" / "c.vcf.c4gh").write_bytes(sealed)
    (root / "key.sec").write_text(pair.locked("pass phrase"))
    keys = KeyFile(root / "key.sec", Crypt4ghKeyFormat(SecretStr("pass phrase")))
    declared = DeclaredInput(
        "vcf", "c.vcf.c4gh", size=len(sealed), sha256=hashlib.sha256(sealed).hexdigest()
    )

    staged = stage_inputs([declared], root / "scratch" / "inputs", Sources(root / "in", keys=keys))

    assert staged["vcf"].name == "c.vcf"
    assert not staged["vcf"].is_symlink()
    assert staged["vcf"].read_bytes() == clear
    assert [p.name for p in staged["vcf"].parent.iterdir()] == ["c.vcf"]


def test_a_wrong_key_file_passphrase_is_key_invalid(root: Path) -> None:
    pair = new_keypair()
    (root / "in" / "c.vcf.c4gh").write_bytes(encrypt(b"x", [pair.public]))
    (root / "key.sec").write_text(pair.locked("right"))
    keys = KeyFile(root / "key.sec", Crypt4ghKeyFormat(SecretStr("Tr0ub4dor")))
    with pytest.raises(StepFailed) as info:
        stage_inputs(
            [DeclaredInput("vcf", "c.vcf.c4gh")],
            root / "scratch" / "inputs",
            Sources(root / "in", keys=keys),
        )
    assert info.value.code == "key_invalid"
    assert "Tr0ub4dor" not in info.value.message


@pytest.mark.parametrize(
    ("delta", "has"), [(-1, "has more than {declared} bytes"), (1, "has {size} bytes")]
)
def test_a_crypt4gh_file_of_another_size_than_declared_leaves_nothing(
    root: Path, delta: int, has: str
) -> None:
    pair = new_keypair()
    sealed = encrypt(b"#CHROM\tPOS\n" * 20_000, [pair.public])
    (root / "in" / "c.vcf.c4gh").write_bytes(sealed)
    (root / "key.sec").write_text(pair.locked("pw"))
    keys = KeyFile(root / "key.sec", Crypt4ghKeyFormat(SecretStr("pw")))
    declared = len(sealed) + delta
    with pytest.raises(StepFailed) as info:
        stage_inputs(
            [DeclaredInput("vcf", "c.vcf.c4gh", size=declared)],
            root / "scratch" / "inputs",
            Sources(root / "in", keys=keys),
        )
    assert info.value.code == "input_mismatch"
    assert has.format(declared=declared, size=len(sealed)) in info.value.message
    assert [p for p in (root / "scratch" / "inputs").rglob("*") if p.is_file()] == []
