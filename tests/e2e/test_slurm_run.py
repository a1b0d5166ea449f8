"""vatti on SLURM (``VATTI_EXECUTOR=slurm``): real jobs through ``vatti run`` and ``vatti serve``
on the single-node cluster of ``scripts/slurm-up``: a command job, a pgs job, a cancellation,
and a server killed mid-job and restarted (reconcile re-attaches through the stored handle)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from tests.e2e.conftest import EXAMPLES, Launcher, clean_env, command, vatti, wait_for

from vatti.domain.layout import results_prefix
from vatti.executors.slurm_commands import SlurmCommands
from vatti.testing.slurm import Cluster

pytestmark = pytest.mark.e2e


def slurm_env(cluster: Cluster, spool: Path, **extra: str) -> dict[str, str]:
    return {
        **cluster.env(),
        "VATTI_EXECUTOR": "slurm",
        "VATTI_SLURM_SPOOL_DIR": str(spool),
        "VATTI_POLL_INTERVAL": "0.1",
        **extra,
    }


def slurm_states(cluster: Cluster) -> dict[str, str]:
    """This user's SLURM jobs by name: their states."""
    commands = SlurmCommands(clean_env(**cluster.env()))
    out = commands.run(["squeue", "--me", "-h", "-t", "all", "-o", "%j|%T"]).stdout
    return dict(line.split("|", 1) for line in out.split())


def test_vatti_run_runs_a_command_job_and_a_pgs_job_on_slurm(
    slurm_cluster: Cluster, tmp_path: Path
) -> None:
    shutil.copy(EXAMPLES / "command-hello.json", tmp_path)
    shutil.copy(EXAMPLES / "pgs-demo.json", tmp_path)
    spool = tmp_path / "spool"
    env = clean_env(
        VATTI_DATA_DIR="vatti-data", VATTI_PGS_OFFLINE="1", **slurm_env(slurm_cluster, spool)
    )
    made = vatti("pgs", "demo-data", "--out", "vatti-data/demo-input", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr

    hello = vatti("run", "command-hello.json", cwd=tmp_path, env=env, timeout=120)
    assert hello.returncode == 0, hello.stderr
    pgs = vatti("run", "pgs-demo.json", cwd=tmp_path, env=env, timeout=180)
    assert pgs.returncode == 0, pgs.stderr

    objects = tmp_path / "vatti-data" / "objects"
    jobs = sorted((spool / "runs").iterdir())
    assert len(jobs) == 2  # both went through SLURM
    states = slurm_states(slurm_cluster)
    assert all(states.get(f"vatti-{job.name}") == "COMPLETED" for job in jobs), states
    for job in jobs:
        outputs = objects / results_prefix(job.name)
        if (outputs / "hello.txt").exists():
            assert (outputs / "hello.txt").read_text() == f"hello, world (job {job.name})\n"
        else:
            with gzip.open(outputs / "aggregated_scores.txt.gz", "rt") as fh:
                assert len(fh.readlines()) == 1 + 2 * 500


def test_cancelling_a_running_job_stops_its_slurm_job(
    slurm_cluster: Cluster, launcher: Launcher, tmp_path: Path, shared: Path
) -> None:
    server = launcher.start(tmp_path / "data", slurm_env(slurm_cluster, tmp_path / "spool"))
    started = shared / "started"  # the job runs under a uid of its own: not in tmp_path
    job = server.submit(command("sh", "-c", f"touch {started}; sleep 600"))
    server.wait_state(job["id"], frozenset({"running"}))
    wait_for(started.exists, 30, "the job to start")
    resp = server.http.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert resp.status_code in (200, 202), resp.text
    done = server.wait_state(job["id"])
    assert done["state"] == "cancelled", done
    state = slurm_states(slurm_cluster).get(f"vatti-{job['id']}")
    assert state in {"FAILED", "CANCELLED"}, state  # ended in SLURM too, long before its sleep


def gated(shared: Path, name: str) -> tuple[dict[str, object], Path, Path]:
    started, gate = shared / f"{name}-started", shared / f"{name}-gate"
    script = f"touch {started}; while [ ! -e {gate} ]; do sleep 0.1; done; echo {name} > out.txt"
    return command("sh", "-c", script, params={"outputs": ["out.txt"]}), started, gate


def test_a_server_killed_mid_job_re_attaches_after_restart(
    slurm_cluster: Cluster, launcher: Launcher, tmp_path: Path, shared: Path
) -> None:
    """Two jobs run in SLURM when the server is SIGKILLed: one ends while it is down, the other
    after it restarted; the restarted server follows both from their stored handles."""
    data, spool = tmp_path / "data", tmp_path / "spool"
    server = launcher.start(data, slurm_env(slurm_cluster, spool))
    jobs = {}
    for name in ("early", "late"):
        body, started, gate = gated(shared, name)
        jobs[name] = (server.submit(body)["id"], started, gate)
    for job_id, started, _ in jobs.values():
        server.wait_state(job_id, frozenset({"running"}))
        wait_for(started.exists, 30, "the job to start")

    server.kill()
    early_id, _, early_gate = jobs["early"]
    early_gate.touch()  # it ends in SLURM while vatti is down
    wait_for((spool / "runs" / early_id / "attempt-1.exit.json").exists, 30, "its end")

    restarted = launcher.start(data, slurm_env(slurm_cluster, spool))
    late_id, _, late_gate = jobs["late"]
    assert restarted.job(late_id)["state"] == "running"
    late_gate.touch()
    for name, (job_id, _, _) in jobs.items():
        done = restarted.wait_state(job_id)
        assert done["state"] == "succeeded", done
        out = restarted.http.get(f"/api/v1/jobs/{job_id}/outputs/out.txt")
        assert out.text == f"{name}\n"
