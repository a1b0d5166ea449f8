"""Start-up time of the commands that should start fast, and of the job runtime.

Each command runs ``--runs`` times (default 15) in a clean environment (no ``VATTI_*``
variable); one line per command gives the fastest and the median wall time, with the target
(0.4 s for ``vatti --help``, ``vatti status --help`` and ``vatti config``) as PASS/FAIL. Run
it on a quiet machine: on a loaded one the figures say more about the load than about vatti.

    .venv/bin/python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS: dict[str, list[str]] = {
    "vatti --help": [str(BIN / "vatti"), "--help"],
    "vatti status --help": [str(BIN / "vatti"), "status", "--help"],
    "vatti config": [str(BIN / "vatti"), "config"],
    "python -m vatti.runtime --help": [sys.executable, "-m", "vatti.runtime", "--help"],
    "python -c 'import vatti.config'": [sys.executable, "-c", "import vatti.config"],
    "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
}
#: seconds
TARGETS = {"vatti --help": 0.4, "vatti status --help": 0.4, "vatti config": 0.4}


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("VATTI_")}


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = clean_env()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, runs: {args.runs}")
    for label, argv in COMMANDS.items():
        timed(argv, env)  # compiled bytecode and a warm page cache for every run that counts
        times = [timed(argv, env) for _ in range(args.runs)]
        line = f"{label:<40} min {min(times):.3f} s  median {statistics.median(times):.3f} s"
        target = TARGETS.get(label)
        if target is not None:
            verdict = "PASS" if statistics.median(times) <= target else "FAIL"
            line += f"  (target <= {target} s: {verdict})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
