"""No-op jobs through vatti on SLURM, against bare ``sbatch --wrap true`` jobs on the same cluster.

Starts (or finds) the single-node cluster of ``scripts/slurm-up`` and prints, in one run:

- the peer: ``--jobs`` ``sbatch --wrap true`` submitted back to back, then the time until SLURM
  reports every one ``COMPLETED`` (jobs/s, first sbatch to last completed);
- vatti: a real ``vatti serve`` (SQLite, token auth, ``VATTI_EXECUTOR=slurm``,
  ``VATTI_MAX_CONCURRENT_JOBS`` = ``--jobs`` so SLURM alone decides how many run at once, as for
  the peer; every other setting at its default: the 1 s poll interval), ``--jobs`` no-op
  ``command`` jobs POSTed at once by 4 clients, then the time until every one is ``succeeded``
  (jobs/s, first POST to last succeeded);
- the ratio of the two rates.

    .venv/bin/python benchmarks/slurm_overhead.py [--jobs 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_throughput

from vatti.executors.slurm_commands import SlurmCommands
from vatti.testing.slurm import start_cluster


def bare_sbatch(commands: SlurmCommands, jobs: int, workdir: Path) -> float:
    """Seconds from the first ``sbatch --wrap true`` to the last job's COMPLETED."""
    start = time.perf_counter()
    ids = set()
    for _ in range(jobs):
        done = commands.run(
            ["sbatch", "--parsable", "-o", "/dev/null", "-D", str(workdir), "--wrap", "true"]
        )
        if done.returncode != 0:
            raise SystemExit(f"sbatch failed: {done.stderr}")
        ids.add(done.stdout.strip().split(";")[0])
    while True:
        states = commands.queue()
        if all(i in states and states[i].state == "COMPLETED" for i in ids):
            return time.perf_counter() - start
        failed = [i for i in ids if i in states and states[i].state in {"FAILED", "CANCELLED"}]
        if failed:
            raise SystemExit(f"bare sbatch jobs failed: {failed[:5]}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs of each kind")
    args = parser.parse_args()
    cluster = start_cluster()
    commands = SlurmCommands()
    with tempfile.TemporaryDirectory(prefix="vatti-bench-slurm-") as tmp:
        work = Path(tmp)
        print(f"SLURM: single node of scripts/slurm-up ({cluster.conf})")
        peer_s = bare_sbatch(commands, args.jobs, work)
        peer_rate = args.jobs / peer_s
        print(
            f"  bare sbatch --wrap true: {args.jobs} jobs in {peer_s:.1f} s: {peer_rate:.1f} jobs/s"
        )

        api_throughput.SERVER_ENV.update(
            VATTI_EXECUTOR="slurm",
            VATTI_SLURM_SPOOL_DIR=str(work / "spool"),
            VATTI_MAX_CONCURRENT_JOBS=str(args.jobs),
        )
        data = work / "vatti"
        data.mkdir()
        with api_throughput.server(data) as base:
            posted, ids = api_throughput.concurrent_submissions(base, args.jobs, 4)
            drained = api_throughput.drain(base, ids, timeout_s=max(300.0, args.jobs * 5.0))
        vatti_s = posted + drained
        rate = args.jobs / vatti_s
        print(
            f"  vatti (serve, SLURM executor, 1 s poll): {args.jobs} no-op command jobs in "
            f"{vatti_s:.1f} s: {rate:.1f} jobs/s (the POSTs took {posted:.1f} s)"
        )
    print(
        f"ratio vatti/bare sbatch: {rate / peer_rate:.2f} of the rate, "
        f"{vatti_s / peer_s:.2f}x the time (a vatti job adds its work area, the job runtime in "
        "a fresh interpreter, store rows, notifications, and the engine's poll)"
    )
    if cluster.started:
        cluster.stop()


if __name__ == "__main__":
    main()
