"""A SLURM job's files in the spool directory, and the batch script that runs it.

The spool directory (``VATTI_SLURM_SPOOL_DIR``) is on a filesystem the engine and the nodes
share. Per job, ``runs/<job id>/`` holds:

- ``job.log`` — the job's stdout and stderr (sbatch ``--output``, appended by every attempt;
  SLURM's own notes, such as a memory kill, land there too);
- ``attempt-N.sh`` — the batch script: SLURM's options and the command, nothing secret;
- ``attempt-N.json`` — the request the job's wrapper reads (:mod:`.slurm_job`): the runtime's
  non-secret settings, the entry point, the memory limit;
- ``attempt-N.sealed`` — the launch's secrets, sealed with the spool's key (``secret.key``) and
  deleted by the wrapper as it reads them;
- ``attempt-N.exit.json`` — the exit the wrapper recorded (code, reason, and the signal when
  something outside the job stopped it).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG_FILE = "job.log"
#: the module the batch script runs
JOB_MODULE = "vatti.executors.slurm_job"


@dataclass(frozen=True)
class ExitRecord:
    """The wrapper's record of how the job's process ended; ``signal`` names the signal the
    wrapper itself received (SLURM or scancel stopping the job), if any."""

    code: int
    reason: str | None = None
    signal: str | None = None


@dataclass(frozen=True)
class RunFiles:
    """The files of one attempt of a job under ``runs_root``."""

    runs_root: Path
    job_id: str
    attempt: int

    @property
    def run_dir(self) -> Path:
        return self.runs_root / self.job_id

    @property
    def log(self) -> Path:
        return self.run_dir / LOG_FILE

    def _file(self, suffix: str) -> Path:
        return self.run_dir / f"attempt-{self.attempt}{suffix}"

    @property
    def script(self) -> Path:
        return self._file(".sh")

    @property
    def request(self) -> Path:
        return self._file(".json")

    @property
    def sealed(self) -> Path:
        return self._file(".sealed")

    @property
    def exit(self) -> Path:
        return self._file(".exit.json")

    def read_exit(self) -> ExitRecord | None:
        try:
            body = json.loads(self.exit.read_text(encoding="utf-8"))
            reason, sig = body.get("reason"), body.get("signal")
            return ExitRecord(
                int(body["code"]),
                None if reason is None else str(reason),
                None if sig is None else str(sig),
            )
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError, AttributeError):
            return ExitRecord(-1, "unreadable exit record")

    def write_exit(self, record: ExitRecord) -> None:
        """Atomically (temporary file, fsync, rename)."""
        body = {"code": record.code, "reason": record.reason, "signal": record.signal}
        write_atomic(self.exit, json.dumps(body))


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class BatchOptions:
    """What the batch script asks SLURM for."""

    job_name: str
    cpus: int = 1
    memory_mb: int | None = None
    time_limit_min: int | None = None
    partition: str | None = None
    account: str | None = None


def sbatch_lines(options: BatchOptions, files: RunFiles) -> list[str]:
    """The ``#SBATCH`` lines of a job.

    ``--export=NONE``: the job inherits nothing of the engine's environment (which may hold
    secrets); the wrapper sets the runtime's. ``--no-requeue``: an attempt runs at most once.

    >>> files = RunFiles(Path("/s/runs"), "j1", 2)
    >>> for line in sbatch_lines(BatchOptions("vatti-j1", 2, 512, 3, "debug"), files):
    ...     print(line)
    #SBATCH --job-name=vatti-j1
    #SBATCH --output=/s/runs/j1/job.log
    #SBATCH --open-mode=append
    #SBATCH --chdir=/s/runs/j1
    #SBATCH --export=NONE
    #SBATCH --no-requeue
    #SBATCH --nodes=1
    #SBATCH --ntasks=1
    #SBATCH --cpus-per-task=2
    #SBATCH --mem=512M
    #SBATCH --time=3
    #SBATCH --partition=debug
    """
    opts = [
        f"--job-name={options.job_name}",
        f"--output={files.log}",
        "--open-mode=append",
        f"--chdir={files.run_dir}",
        "--export=NONE",
        "--no-requeue",
        "--nodes=1",
        "--ntasks=1",
        f"--cpus-per-task={options.cpus}",
    ]
    if options.memory_mb:
        opts.append(f"--mem={options.memory_mb}M")
    if options.time_limit_min:
        opts.append(f"--time={options.time_limit_min}")
    if options.partition:
        opts.append(f"--partition={options.partition}")
    if options.account:
        opts.append(f"--account={options.account}")
    return [f"#SBATCH {opt}" for opt in opts]


def batch_script(options: BatchOptions, files: RunFiles, python: str) -> str:
    """The whole batch script: its options, then the job's wrapper (no secret anywhere)."""
    command = [python, "-m", JOB_MODULE, str(files.run_dir), str(files.attempt)]
    lines = [
        "#!/bin/sh",
        *sbatch_lines(options, files),
        "# written by vatti: runs one attempt of a vatti job (see vatti.executors.slurm)",
        "exec " + shlex.join(command),
    ]
    return "\n".join(lines) + "\n"


def request_body(
    *, job_id: str, attempt: int, env: dict[str, str], entry: str, memory_mb: int, spool: Path
) -> dict[str, Any]:
    """What the wrapper reads from ``attempt-N.json``."""
    return {
        "job_id": job_id,
        "attempt": attempt,
        "env": env,
        "entry": entry,
        "memory_mb": memory_mb,
        "spool_dir": str(spool),
    }
