"""Inputs that are ``s3://`` objects, read from a real S3 server (moto's, on loopback) with the
credentials and endpoint of the settings only: verified against their declared size and SHA-256,
crypt4gh ones decrypted while they stream; each failure has its code and leaves no file."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from pydantic import SecretStr

from vatti.config import StoreSettings
from vatti.domain.inputs import DeclaredInput
from vatti.pipelines.errors import StepFailed
from vatti.staging.retries import RetryPolicy
from vatti.staging.secret_keys import Crypt4ghKeyFormat, KeyFile
from vatti.staging.sources import Sources, stage_inputs
from vatti.testing.c4gh import KeyPair, encrypt, new_keypair
from vatti.testing.s3 import SECRET_ACCESS_KEY, S3Server

pytestmark = pytest.mark.integration

BUCKET = "genomes"
MARKER = b"##vatti-marker=clear text of an s3 input\n"
CLEAR = MARKER + random.Random(7).randbytes(200_000)
PASSPHRASE = "key-file-passphrase"


@pytest.fixture(scope="module")
def sealed(pair: KeyPair) -> bytes:
    return encrypt(CLEAR, [pair.public])


@pytest.fixture
def bucket(s3_server: S3Server, sealed: bytes) -> S3Server:
    s3_server.create_bucket(BUCKET)
    s3_server.client.put_object(Bucket=BUCKET, Key="run 1/cohort.pgen.c4gh", Body=sealed)
    s3_server.client.put_object(Bucket=BUCKET, Key="run 1/cohort.psam", Body=b"#IID\ns1\n")
    return s3_server


def sources(tmp_path: Path, pair: KeyPair, settings: StoreSettings) -> Sources:
    key_file = tmp_path / "c4gh.sec"
    key_file.write_text(pair.locked(PASSPHRASE))
    keys = KeyFile(key_file, Crypt4ghKeyFormat(SecretStr(PASSPHRASE)))
    # a failing GET is attempted twice, quickly (the default: five times, from 1 s apart)
    return Sources(
        keys=keys,
        buckets=settings,
        retries=RetryPolicy(timeout_s=10.0, attempts=2, first_delay_s=0.01),
    )


def stage(
    tmp_path: Path, pair: KeyPair, settings: StoreSettings, *declared: DeclaredInput
) -> dict[str, Path]:
    opened = sources(tmp_path, pair, settings)
    try:
        return stage_inputs(declared, tmp_path / "inputs", opened)
    finally:
        opened.close()


def failure(
    tmp_path: Path, pair: KeyPair, settings: StoreSettings, declared: DeclaredInput
) -> StepFailed:
    with pytest.raises(StepFailed) as info:
        stage(tmp_path, pair, settings, declared)
    assert info.value.step == "inputs"
    assert SECRET_ACCESS_KEY not in info.value.message
    written = [p for p in (tmp_path / "inputs").rglob("*") if p.is_file()]
    assert written == [], "a partly written file was left behind"
    return info.value


def test_an_encrypted_object_is_decrypted_into_the_scratch_and_a_clear_one_copied(
    bucket: S3Server, tmp_path: Path, pair: KeyPair, sealed: bytes
) -> None:
    staged = stage(
        tmp_path,
        pair,
        bucket.settings(),
        DeclaredInput(
            "cohort.pgen",
            f"s3://{BUCKET}/run%201/cohort.pgen.c4gh",
            size=len(sealed),
            sha256=hashlib.sha256(sealed).hexdigest(),
        ),
        DeclaredInput("cohort.psam", f"s3://{BUCKET}/run%201/cohort.psam", size=8),
    )
    assert staged["cohort.pgen"].name == "cohort.pgen"
    assert staged["cohort.pgen"].read_bytes() == CLEAR
    assert staged["cohort.psam"].read_bytes() == b"#IID\ns1\n"
    assert not staged["cohort.psam"].is_symlink()
    assert (staged["cohort.pgen"].stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    ("location", "size", "sha256", "code", "what"),
    [
        ("run%201/cohort.pgen.c4gh", 1000, None, "input_mismatch", "1000 were declared"),
        ("run%201/cohort.pgen.c4gh", 10**7, None, "input_mismatch", "were declared"),
        ("run%201/cohort.pgen.c4gh", None, "0" * 64, "input_mismatch", "declared SHA-256"),
        ("run%201/nothing.pgen", None, None, "input_missing", "no such object"),
        ("", None, None, "input_refused", "names a bucket, not an object"),
        ("a/../../b.pgen", None, None, "input_refused", "'..'"),
    ],
)
def test_each_bad_object_has_its_code(
    bucket: S3Server,
    tmp_path: Path,
    pair: KeyPair,
    location: str,
    size: int | None,
    sha256: str | None,
    code: str,
    what: str,
) -> None:
    declared = DeclaredInput("x.pgen", f"s3://{BUCKET}/{location}", size=size, sha256=sha256)
    failed = failure(tmp_path, pair, bucket.settings(), declared)
    assert failed.code == code
    assert what in failed.message


@pytest.mark.parametrize(
    ("damage", "code", "what"),
    [
        (lambda sealed: sealed[:-5000], "input_corrupt", "truncated"),
        (lambda sealed: encrypt(CLEAR, [new_keypair().public]), "decrypt_wrong_key", "another"),
    ],
)
def test_a_damaged_or_foreign_crypt4gh_object_fails_and_leaves_nothing(
    bucket: S3Server, tmp_path: Path, pair: KeyPair, sealed: bytes, damage, code: str, what: str
) -> None:  # type: ignore[no-untyped-def]
    bucket.client.put_object(Bucket=BUCKET, Key="bad.pgen.c4gh", Body=damage(sealed))
    failed = failure(
        tmp_path, pair, bucket.settings(), DeclaredInput("x", f"s3://{BUCKET}/bad.pgen.c4gh")
    )
    assert failed.code == code
    assert what in failed.message


def test_without_the_credentials_the_bucket_refuses(
    bucket: S3Server, tmp_path: Path, pair: KeyPair
) -> None:
    anonymous = bucket.settings(s3_access_key_id=None, s3_secret_access_key=None)
    failed = failure(
        tmp_path, pair, anonymous, DeclaredInput("x", f"s3://{BUCKET}/run%201/cohort.psam")
    )
    assert failed.code == "input_unauthorized"
    assert "refused access" in failed.message


def test_an_unreachable_endpoint_is_input_unreachable(
    bucket: S3Server, tmp_path: Path, pair: KeyPair
) -> None:
    nowhere = bucket.settings(s3_endpoint="http://127.0.0.1:9")
    failed = failure(
        tmp_path, pair, nowhere, DeclaredInput("x", f"s3://{BUCKET}/run%201/cohort.psam")
    )
    assert failed.code == "input_unreachable"
    assert "cannot be read" in failed.message


def test_a_gs_object_goes_through_the_same_code_to_the_configured_endpoint(
    tmp_path: Path, pair: KeyPair
) -> None:
    """No GCS emulator that obstore speaks runs here: the configured (loopback, closed)
    endpoint is what a gs:// input is read from, and it fails as an unreachable source."""
    settings = StoreSettings(gcs_endpoint="http://127.0.0.1:9")
    failed = failure(tmp_path, pair, settings, DeclaredInput("x", "gs://genomes/run/x.pgen"))
    assert failed.code == "input_unreachable"
    assert failed.message.startswith("input gs://genomes/run/x.pgen: the bucket cannot be read")


def test_a_pgs_job_reads_its_genomes_from_s3_and_scores_as_from_local_files(
    s3_server: S3Server, tmp_path: Path
) -> None:
    import json

    from vatti.domain.layout import outcome_key, result_key, spec_key
    from vatti.pipelines.base import JobSettings, default_registry
    from vatti.pipelines.pgs import synthetic as syn
    from vatti.runtime.job import run_job_in
    from vatti.staging.objects import ObjectStore

    root = tmp_path / "in"
    variants = syn.write_pfile(root / "cohort", syn.CohortSpec(30, 300, seed=4))
    syn.write_scorefile(root / "PGS999905.txt.gz", variants, syn.ScoreSpec(80, pgs_id="PGS999905"))
    s3_server.create_bucket(BUCKET)
    for suffix in ("pgen", "pvar", "psam"):
        s3_server.client.upload_file(str(root / f"cohort.{suffix}"), BUCKET, f"c/cohort.{suffix}")
    store = ObjectStore.from_url((tmp_path / "store").as_uri())
    scores = {}
    for job_id, prefix in (("local", "cohort"), ("s3", f"s3://{BUCKET}/c/cohort")):
        genome = {"sampleset": "cohort", "format": "pfile"} | {
            field: f"{prefix}.{suffix}"
            for field, suffix in (("geno", "pgen"), ("pheno", "psam"), ("variants", "pvar"))
        }
        params = {
            "target_genomes": [genome],
            "scorefiles": ["PGS999905.txt.gz"],
            "target_build": "GRCh37",
        }
        store.put_bytes(
            spec_key(job_id), json.dumps({"pipeline": "pgs", "params": params}).encode()
        )
        code = run_job_in(
            job_id,
            store,
            default_registry(),
            tmp_path / "scratch",
            JobSettings(input_root=root),
            buckets=s3_server.settings(),
        )
        assert code == 0, store.get_bytes(outcome_key(job_id))
        scores[job_id] = store.get_bytes(result_key(job_id, "aggregated_scores.txt.gz"))
    assert scores["s3"] == scores["local"]
