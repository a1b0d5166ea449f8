"""The SLURM executor on a real single-node cluster (``scripts/slurm-up``, once per session).

The executor contract runs unchanged; its wall-time test is this module's one time-limit kill
(SLURM's ``--time`` has minute granularity and SLURM checks limits about every 30 s: 60-120 s).
Then SLURM's own cases: a memory kill by SLURM (not by the job's ``RLIMIT_AS``), a cancellation
of a queued job, what the batch script, ``scontrol`` and the job's environment show of a
secret, and a handle SLURM no longer knows.
"""

from __future__ import annotations

import hashlib
import re
import secrets as random_secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from vatti.executors.base import MEMORY, Exited, Launch, Limits, Pending, Vanished
from vatti.executors.slurm import SlurmExecutor, SlurmHandle
from vatti.testing.executors import (
    RAW_ARGV,
    ExecutorContract,
    ExecutorRig,
    data_dir_for_jobs,
    final,
    new_job_id,
    scripted,
    wait_for_log,
    whole_log,
)
from vatti.testing.job_scripts import ENTRY
from vatti.testing.slurm import Cluster

pytestmark = pytest.mark.integration

#: the executor's margin over vatti's wall time: SLURM rounds the sum up to whole minutes
MARGIN_S = 59.0


def executor(tmp_path: Path, **kwargs: object) -> SlurmExecutor:
    return SlurmExecutor(
        tmp_path / "spool",
        scratch_root=tmp_path / "data" / "scratch",
        entry=ENTRY,
        wall_time_margin_s=MARGIN_S,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def slurm(slurm_cluster: Cluster) -> Iterator[Path]:
    """A test's own spool and data dir, which jobs under their own uids can reach (not under
    pytest's 0700 tmp dir); its jobs are cancelled when it ends."""
    with data_dir_for_jobs() as root:
        root.chmod(0o711)  # its data dir's parent, traversable as a real one's
        yield root
        slurm_cluster.cancel_all()


class TestSlurmExecutor(ExecutorContract):
    @pytest.fixture
    def rig(self, slurm: Path) -> ExecutorRig:
        objects = slurm / "objects"
        objects.mkdir()
        env = {
            "VATTI_DATA_DIR": str(slurm / "data"),
            "VATTI_OBJECT_STORE_URL": objects.as_uri(),
            "VATTI_PGS_OFFLINE": "1",
        }
        return ExecutorRig(
            lambda: executor(slurm),
            objects.as_uri(),
            env,
            slurm,
            MARGIN_S,
            data_dir=slurm / "data",
        )


def test_slurm_kills_a_command_job_whose_processes_together_exceed_its_memory(
    slurm: Path,
) -> None:
    """Each process stays under the job's RLIMIT_AS; together they go over SLURM's --mem."""
    ex, job_id = executor(slurm), new_job_id()
    hog = "import time; b = bytearray(200 << 20); print('allocated', flush=True); time.sleep(60)"
    argv = ["sh", "-c", f'for i in 1 2 3 4; do python3 -c "{hog}" & done; wait']
    objects = slurm / "objects"
    objects.mkdir()
    rig = ExecutorRig(lambda: ex, objects.as_uri(), {}, slurm, MARGIN_S)
    ExecutorContract().provision(rig, job_id, {"argv": argv, "outputs": []})
    env = {
        "VATTI_DATA_DIR": str(slurm / "data"),
        "VATTI_OBJECT_STORE_URL": objects.as_uri(),
        RAW_ARGV: "1",  # the job is the test's allocating script
    }
    handle = ex.submit(Launch(job_id=job_id, env=env, limits=Limits(memory_mb=512)))
    status = final(ex, handle, timeout_s=90)
    log = whole_log(ex, handle)
    assert isinstance(status, Exited), status
    assert status.limit == MEMORY, (status, log)
    assert "512 MiB" in (status.reason or "")
    # each process got its memory (SLURM, not RLIMIT_AS, stopped them): SLURM saw more in use
    # than two of them hold, and none failed to allocate (its own output may be lost with the
    # job, killed at once)
    used = re.search(rb"exceeded memory limit \((\d+) > (\d+)\)", log)
    assert used is not None, log
    assert int(used.group(1)) > 2 * (200 << 20), log
    assert b"MemoryError" not in log


def test_a_queued_job_is_cancelled_before_it_starts(slurm: Path) -> None:
    ex = executor(slurm, partition="nosuchpartition-held")
    with pytest.raises(Exception, match="partition"):
        ex.submit(scripted(new_job_id(), {"print": "never"}))
    held = executor(slurm)
    launch = scripted(new_job_id(), {"print": "ran"})
    handle = held.submit(launch)
    slurm_id = SlurmHandle.loads(handle).slurm_id
    held.commands.run(["scontrol", "hold", slurm_id])
    assert isinstance(held.poll(handle), Pending)
    held.terminate(handle, 5.0)
    status = held.poll(handle)
    assert isinstance(status, Exited), status
    assert status.code != 0
    assert "cancelled" in (status.reason or "")
    assert b"ran" not in (whole_log(held, handle) or b"")


def test_secrets_are_not_in_the_batch_script_scontrol_or_the_jobs_environment(
    slurm: Path,
) -> None:
    ex = executor(slurm)
    secret = f"s3cret-{random_secrets.token_hex(8)}"
    go = slurm / "go"
    launch = scripted(
        new_job_id(),
        {"secrets": True, "pid": True, "wait_for": str(go)},
        secrets={"VATTI_TEST_SECRET": secret},
    )
    handle = ex.submit(launch)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    wait_for_log(ex, handle, rf"secret VATTI_TEST_SECRET sha256={digest}\n")
    pid = int(wait_for_log(ex, handle, r"pid=(\d+)\n")[1])
    h = SlurmHandle.loads(handle)
    shown = ex.commands.run(["scontrol", "show", "job", "-d", h.slurm_id]).stdout
    script = ex.commands.run(["scontrol", "write", "batch_script", h.slurm_id, "-"]).stdout
    assert f"JobId={h.slurm_id}" in shown
    assert "vatti.executors.slurm_job" in script
    assert secret not in shown + script
    assert not h.files.sealed.exists()  # deleted as the wrapper read it
    for proc in (pid, *_parents(pid)):
        assert secret.encode() not in Path(f"/proc/{proc}/environ").read_bytes()
    for path in h.files.run_dir.iterdir():
        assert secret.encode() not in path.read_bytes(), path
    go.touch()
    assert final(ex, handle) == Exited(0)


def _parents(pid: int) -> list[int]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    ppid = int(stat.rpartition(")")[2].split()[1])
    return [ppid] if ppid > 1 else []


def test_a_handle_slurm_no_longer_knows_is_vanished(slurm: Path) -> None:
    ex = executor(slurm)
    handle = ex.submit(scripted(new_job_id(), {"exit": 0}))
    h = SlurmHandle.loads(handle)
    assert final(ex, handle) == Exited(0)
    forgotten = SlurmHandle(h.job_id, 2, "999999", h.runs_root, h.scratch_root)
    status = ex.poll(forgotten.dumps())
    assert isinstance(status, Vanished), status
    assert "999999 is unknown to SLURM" in status.reason
