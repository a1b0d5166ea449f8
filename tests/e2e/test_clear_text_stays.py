"""Clear text never escapes the job's scratch: ``vatti serve`` with its work areas and results in
two buckets of a real S3 server (moto's), crypt4gh inputs from the collection stand-in, runs a
job that succeeds, one that fails, one cancelled and two SIGKILLed while they decrypt (the job
process alone, and its whole process group): the collection holds the download on an event the
test sets. A marker line planted in the genotypes' ``.pvar`` header (which no output copies) is,
at the pause, in the scratch (so the search finds it), and after each job ended it is nowhere:
not under the data dir, the scratch root, ``$TMPDIR``, nor in any object of either bucket."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.e2e.conftest import JOBS, Launcher, Server, wait_for

from vatti.pipelines.pgs import synthetic as syn
from vatti.testing.c4gh import KeyPair, new_keypair
from vatti.testing.messages import cohort_message
from vatti.testing.s3 import S3Server
from vatti.testing.standins import KEY_WRAP_PASSWORD, StandIns

pytestmark = pytest.mark.e2e

SECRET_ID = "5b0e1e0c-8c9e-4a53-9d6a-2a0f4f8f7d11"
COHORT = syn.CohortSpec(n_samples=40, n_variants=3000, seed=11, missing_rate=0.02)
SCORE = syn.ScoreSpec(200, pgs_id="PGS999904", seed=6)
BUCKETS = ("vatti-work", "vatti-results")


class Rig:
    def __init__(self, server: Server, standins: StandIns, s3: S3Server, roots: list[Path]):
        self.server, self.standins, self.s3, self.roots = server, standins, s3, roots

    def places_holding(self, marker: bytes) -> list[str]:
        """Every file under the roots and every object in the buckets that holds ``marker``."""
        found = [
            str(path)
            for root in self.roots
            for path in root.rglob("*")
            if path.is_file() and not path.is_symlink() and marker in path.read_bytes()
        ]
        for bucket in BUCKETS:
            for key in self.s3.keys(bucket):
                client = self.s3.client
                try:
                    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
                except client.exceptions.NoSuchKey:
                    continue  # deleted since it was listed
                if marker in body:
                    found.append(f"s3://{bucket}/{key}")
        return found


@pytest.fixture
def rig(
    tmp_path: Path, launcher: Launcher, standins: StandIns, s3_server: S3Server
) -> Iterator[Rig]:
    for bucket in BUCKETS:
        s3_server.create_bucket(bucket)
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    tmp.mkdir()
    syn.write_scorefile(
        work / "scores" / "PGS999904.txt.gz", syn.write_pfile(tmp_path / "gen" / "c", COHORT), SCORE
    )
    env = {
        "VATTI_INPUT_ROOT": str(work),
        "VATTI_PGS_OFFLINE": "1",
        "VATTI_OBJECT_STORE_URL": f"s3://{BUCKETS[0]}/deploy",
        "VATTI_RESULTS_STORE_URL": f"s3://{BUCKETS[1]}/deploy",
        "VATTI_RECONCILE_INTERVAL": "0.5",
        "TMPDIR": str(tmp),
        **s3_server.env(),
        **standins.env(),
    }
    server = launcher.start(tmp_path / "data", env)
    yield Rig(server, standins, s3_server, [tmp_path / "data", tmp])
    standins.state.release.set()


def planted(
    rig: Rig, tmp_path: Path, run: str, pair: KeyPair
) -> tuple[bytes, list[dict[str, Any]]]:
    """Encrypt the cohort, its .pvar with a marker header line, onto the collection under
    ``run``; the marker and the globus_details files (the .pvar first)."""
    marker = f"##vatti-clear-text-marker={secrets.token_hex(16)}".encode()
    clear = {
        f"cohort.{s}": (tmp_path / "gen" / f"c.{s}").read_bytes() for s in ("pvar", "pgen", "psam")
    }
    clear["cohort.pvar"] = marker + b"\n" + clear["cohort.pvar"]
    return marker, rig.standins.put_encrypted(run, clear, pair.public)


def submit(rig: Rig, run: str, files: list[dict[str, Any]]) -> str:
    message = cohort_message(run, run, files, "scores/PGS999904.txt.gz", SECRET_ID)
    resp = rig.server.http.post(JOBS, json=message)
    assert resp.status_code == 201, resp.text
    job_id: str = resp.json()["id"]
    return job_id


def downloading_process(port: int) -> psutil.Process:
    """The job process: the one whose download from the stand-in (on ``port``) is held."""
    for proc in psutil.process_iter():
        try:
            if any(c.raddr and c.raddr.port == port for c in proc.net_connections("tcp")):
                return proc
        except psutil.Error:
            continue
    pytest.fail(f"no process is connected to port {port}")


def test_no_clear_text_outlives_a_job_however_it_ends(rig: Rig, tmp_path: Path) -> None:
    pair = new_keypair()
    rig.standins.state.keys[(SECRET_ID, "1")] = pair.locked(KEY_WRAP_PASSWORD)
    server, state = rig.server, rig.standins.state
    scratch_root = server.data_dir / "scratch"

    # succeeds
    marker, files = planted(rig, tmp_path, "INTP0000001", pair)
    done = server.wait_state(submit(rig, "INTP0000001", files), timeout=120)
    assert done["state"] == "succeeded", (done, server.log())
    assert rig.places_holding(marker) == []

    # fails after the .pvar was decrypted: the .pgen is larger than declared
    marker, files = planted(rig, tmp_path, "INTP0000002", pair)
    files[1]["size"] -= 1
    done = server.wait_state(submit(rig, "INTP0000002", files), timeout=120)
    assert (done["state"], done["failure"]["code"]) == ("failed", "input_mismatch")
    assert rig.places_holding(marker) == []

    # cancelled while it decrypts; SIGKILLed while it decrypts (the job process, whose wrapper
    # reports its death; then the job's whole process group, so that no one does and the engine
    # finds it vanished)
    stops = (("INTP0000003", "cancel"), ("INTP0000004", "kill"), ("INTP0000005", "kill group"))
    for run, stop in stops:
        state.held.clear()
        state.release.clear()
        marker, files = planted(rig, tmp_path, run, pair)
        state.hold_after[f"{run}/cohort.pgen.c4gh"] = 200_000
        job_id = submit(rig, run, files)
        assert state.held.wait(60), server.log()
        # the .pvar was staged before the .pgen was asked for: its clear text is in the scratch
        assert rig.places_holding(marker) != [], "the search must find the decrypted .pvar"
        if stop == "cancel":
            assert server.http.post(f"{JOBS}/{job_id}/cancel").status_code == 202
            expected = "cancelled"
        else:
            process = downloading_process(rig.standins.port)
            assert server.proc.pid in [parent.pid for parent in process.parents()]
            if stop == "kill group":
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
            else:
                process.send_signal(signal.SIGKILL)
            expected = "failed"
        done = server.wait_state(job_id, timeout=60)
        state.release.set()
        assert done["state"] == expected, (done, server.log())
        wait_for(lambda job_id=job_id: not (scratch_root / job_id).exists(), 30, "the sweep")  # type: ignore[misc]
        assert rig.places_holding(marker) == [], stop
    assert os.listdir(scratch_root) == []
