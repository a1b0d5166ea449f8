"""A real SLURM cluster for the tests: the single node ``scripts/slurm-up`` starts on this machine.

:func:`slurm_cluster` runs the script once (it installs slurm-wlm and munge when missing and
keeps what runs already), puts its ``SLURM_CONF`` in this process's environment and says
whether it started the daemons (then the session stops them again with ``scripts/slurm-down``).
Without a cluster the tests skip, and fail when ``CI=true``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vatti.executors.slurm_commands import SlurmCommands
from vatti.testing.services import missing

REPO = Path(__file__).resolve().parents[3]
UP = REPO / "scripts" / "slurm-up"
DOWN = REPO / "scripts" / "slurm-down"
#: how long slurm-up may take (an apt install included)
UP_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Cluster:
    conf: Path
    started: bool

    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def cancel_all(self) -> None:
        """Cancel every job of this user (between tests: nothing of one test runs on)."""
        SlurmCommands(self.env() | {"PATH": os.environ.get("PATH", "")}).run(["scancel", "--me"])

    def stop(self) -> None:
        if self.started:
            subprocess.run([str(DOWN)], check=False, capture_output=True, timeout=60)


class ClusterUnavailable(RuntimeError):
    """scripts/slurm-up could not start the cluster."""


def start_cluster() -> Cluster:
    """Run scripts/slurm-up; the cluster, its SLURM_CONF put in this process's environment."""
    if not UP.is_file():
        raise ClusterUnavailable(f"{UP} is missing: run from the repository")
    try:
        done = subprocess.run(
            [str(UP)], capture_output=True, text=True, timeout=UP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise ClusterUnavailable(f"scripts/slurm-up took more than {UP_TIMEOUT_S:g} s") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("export SLURM_CONF="):
        why = (done.stderr or done.stdout).strip()[-800:]
        raise ClusterUnavailable(f"scripts/slurm-up failed: {why}")
    conf = Path(lines[-1].removeprefix("export SLURM_CONF="))
    os.environ["SLURM_CONF"] = str(conf)
    return Cluster(conf, started="started slurmctld" in done.stdout)


def slurm_cluster() -> Cluster:
    """Start the test cluster (or find it running); skip, or fail in CI, when it cannot run."""
    try:
        return start_cluster()
    except ClusterUnavailable as exc:
        missing("a SLURM cluster", str(exc))
