"""SLURM's client commands, as the SLURM executor uses them: the one place that runs them.

``sbatch`` submits a batch script, ``squeue`` lists this user's jobs (live ones, and finished
ones for ``MinJobAge``), ``scontrol show job`` reads one job with its exit code, ``sacct`` reads
a finished job from accounting (slurmdbd) or, without it, from the job-completion records
(``sacct --completion``, ``JobCompType=jobcomp/filetxt``), and ``scancel`` signals or cancels.

Every command runs with the caller's environment, which must hold ``SLURM_CONF`` (without it a
SLURM command looks for its controller in DNS, off the machine): :class:`SlurmCommands` refuses
to run any without it. The parsers are pure and tested by their doctests.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vatti.executors.errors import ExecutorError, SubmitFailed

#: seconds a SLURM command may take before it counts as failed (the controller is unreachable)
COMMAND_TIMEOUT_S = 30.0
_FIELDS = "%i|%T|%r"


@dataclass(frozen=True)
class SlurmJob:
    """What SLURM says of one job: its state, the reason, and (when known) its exit code and
    the signal that ended it."""

    job_id: str
    state: str
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None


def parse_job_id(out: str) -> str:
    """The job id ``sbatch --parsable`` printed (``ID`` or ``ID;CLUSTER``).

    >>> parse_job_id("42\\n"), parse_job_id("43;vatti\\n")
    ('42', '43')
    """
    job_id = out.strip().split(";", 1)[0]
    if not job_id.isdigit():
        raise SubmitFailed(f"sbatch printed no job id: {out.strip()[:200]!r}")
    return job_id


def parse_exit_code(text: str) -> tuple[int | None, int | None]:
    """SLURM's ``CODE:SIGNAL``.

    >>> parse_exit_code("3:0"), parse_exit_code("0:9"), parse_exit_code("")
    ((3, 0), (0, 9), (None, None))
    """
    code, _, sig = text.strip().partition(":")
    if not code.isdigit():
        return None, None
    return int(code), int(sig) if sig.isdigit() else None


def parse_state(text: str) -> str:
    """The base state of a SLURM state field (``CANCELLED by 0`` → ``CANCELLED``).

    >>> parse_state("CANCELLED by 0"), parse_state("RUNNING")
    ('CANCELLED', 'RUNNING')
    """
    return text.strip().split(" ", 1)[0].rstrip("+").upper()


def parse_queue(out: str) -> dict[str, SlurmJob]:
    """``squeue -h -o '%i|%T|%r'`` → jobs by id.

    >>> parse_queue("7|RUNNING|None\\n8|PENDING|Resources\\n")["8"]
    SlurmJob(job_id='8', state='PENDING', reason='Resources', exit_code=None, signal=None)
    """
    jobs = {}
    for line in out.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and parts[0]:
            job_id = parts[0]
            jobs[job_id] = SlurmJob(
                job_id, parse_state(parts[1]), parts[2] if len(parts) > 2 else ""
            )
    return jobs


def parse_show_job(out: str) -> SlurmJob | None:
    """``scontrol show job -o ID`` (one line of ``Key=Value``) → the job.

    >>> parse_show_job("JobId=5 JobName=x JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0")
    SlurmJob(job_id='5', state='FAILED', reason='NonZeroExitCode', exit_code=3, signal=0)
    """
    fields: dict[str, str] = {}
    for token in out.split():
        key, sep, value = token.partition("=")
        if sep and key not in fields:
            fields[key] = value
    if "JobId" not in fields or "JobState" not in fields:
        return None
    code, sig = parse_exit_code(fields.get("ExitCode", ""))
    return SlurmJob(
        fields["JobId"], parse_state(fields["JobState"]), fields.get("Reason", ""), code, sig
    )


def parse_sacct(out: str, job_id: str) -> SlurmJob | None:
    """``sacct -n -P -o JobID,State,ExitCode`` → the job's own line (not its steps').

    >>> parse_sacct("9|TIMEOUT|0:0\\n9.batch|CANCELLED|0:15\\n", "9")
    SlurmJob(job_id='9', state='TIMEOUT', reason='', exit_code=0, signal=0)
    >>> parse_sacct("", "9") is None
    True
    """
    for line in out.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 3 and parts[0] == job_id:
            code, sig = parse_exit_code(parts[2])
            return SlurmJob(job_id, parse_state(parts[1]), "", code, sig)
    return None


class SlurmCommands:
    """Runs SLURM's commands with ``environ`` (default: this process's), SLURM_CONF required."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, timeout_s: float = COMMAND_TIMEOUT_S
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        if not self.environ.get("SLURM_CONF"):
            raise ExecutorError(
                "SLURM_CONF is not set: the SLURM executor needs the path of slurm.conf "
                "(without it SLURM's commands look for the controller in DNS)"
            )
        self.timeout_s = timeout_s

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                env=self.environ,
                timeout=self.timeout_s,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ExecutorError(
                f"{argv[0]} did not answer within {self.timeout_s:g} s (is slurmctld up?)"
            ) from None
        except OSError as exc:
            raise ExecutorError(f"{argv[0]} could not be run: {exc.strerror}") from None

    def sbatch(self, script: str) -> str:
        """Submit the batch script at path ``script``; the job id."""
        done = self.run(["sbatch", "--parsable", script])
        if done.returncode != 0:
            raise SubmitFailed(f"sbatch refused the job: {done.stderr.strip()[:500]}")
        return parse_job_id(done.stdout)

    def queue(self) -> dict[str, SlurmJob]:
        """This user's jobs that slurmctld knows (live, and finished within ``MinJobAge``)."""
        done = self.run(["squeue", "--me", "-h", "-t", "all", "-o", _FIELDS])
        if done.returncode != 0:
            raise ExecutorError(f"squeue failed: {done.stderr.strip()[:500]}")
        return parse_queue(done.stdout)

    def show(self, job_id: str) -> SlurmJob | None:
        """The job as slurmctld has it, with its exit code; None when it has forgotten it."""
        done = self.run(["scontrol", "show", "job", "-o", job_id])
        if done.returncode != 0:
            if "Invalid job id" in done.stderr:
                return None
            raise ExecutorError(f"scontrol show job failed: {done.stderr.strip()[:500]}")
        return parse_show_job(done.stdout)

    def accounting(self, job_id: str) -> SlurmJob | None:
        """A finished job from accounting, else from job-completion records; None if neither
        knows it (or the cluster keeps neither)."""
        fields = ["-j", job_id, "-n", "-P", "-o", "JobID,State,ExitCode"]
        for argv in (["sacct", "-X", *fields], ["sacct", "--completion", *fields]):
            done = self.run(argv)
            if done.returncode == 0:
                found = parse_sacct(done.stdout, job_id)
                if found is not None:
                    return found
        return None

    def find(self, job_id: str) -> SlurmJob | None:
        """The job wherever SLURM still has it: slurmctld, then accounting."""
        return self.show(job_id) or self.accounting(job_id)

    def cancel(self, job_id: str, signal: str | None = None) -> None:
        """``scancel`` the job; with ``signal``, only send it to every process of the job."""
        argv = (
            ["scancel", "--full", f"--signal={signal}", job_id] if signal else ["scancel", job_id]
        )
        done = self.run(argv)
        if done.returncode != 0 and "already completing or completed" not in done.stderr:
            raise ExecutorError(f"scancel failed: {done.stderr.strip()[:500]}")
