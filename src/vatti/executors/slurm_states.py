"""SLURM's job states, as vatti's executor statuses (pure: no command runs here).

The wrapper's exit record (:class:`~.slurm_runs.ExitRecord`) is the job's own word and wins,
unless something outside the job stopped it (the wrapper got a signal): then SLURM's final
state says why. A job SLURM stopped at its time limit (``TIMEOUT``) is ``limit=wall_time``; one
it killed for memory is ``limit=memory``: ``OUT_OF_MEMORY`` with cgroups, and without them
(``JobAcctGatherParams=OverMemoryKill``) a ``FAILED`` job whose log holds slurmstepd's
"exceeded memory limit" note.
"""

from __future__ import annotations

import signal
from typing import Final

from vatti.executors.base import MEMORY, WALL_TIME, ExecStatus, Exited, Pending, Running, Vanished
from vatti.executors.slurm_commands import SlurmJob
from vatti.executors.slurm_runs import ExitRecord

PENDING_STATES: Final = frozenset(
    {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
)
RUNNING_STATES: Final = frozenset(
    {"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}
)
#: ends that leave no exit of the job's: the node or the cluster took it
LOST_STATES: Final = frozenset({"NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "DEADLINE", "REVOKED"})
#: slurmstepd's note in the job's output when OverMemoryKill stops it
MEMORY_NOTE: Final = b"exceeded memory limit"
#: exit status of a job SLURM stopped at its time limit (as timeout(1))
TIMEOUT_EXIT: Final = 124
KILLED_EXIT: Final = 128 + signal.SIGKILL


def is_live(job: SlurmJob) -> bool:
    return job.state in PENDING_STATES or job.state in RUNNING_STATES


def exit_of_slurm(job: SlurmJob) -> int:
    """The exit status SLURM recorded, in the shell's convention (128 + N for signal N).

    >>> exit_of_slurm(SlurmJob("1", "FAILED", exit_code=0, signal=9))
    137
    >>> exit_of_slurm(SlurmJob("1", "FAILED", exit_code=3, signal=0))
    3
    """
    if job.signal:
        return 128 + job.signal
    return job.exit_code if job.exit_code is not None else -1


def status_of(
    slurm_id: str,
    job: SlurmJob | None,
    record: ExitRecord | None,
    log_tail: bytes = b"",
    *,
    memory_mb: int | None = None,
    time_limit_min: int | None = None,
) -> ExecStatus:
    """The status of one attempt from what SLURM says (``job``, None when SLURM knows it no
    more), the wrapper's exit record and the end of the job's log.

    >>> status_of("4", None, ExitRecord(0))
    Exited(code=0, reason=None, limit=None)
    >>> status_of("4", SlurmJob("4", "PENDING", "Resources"), None)
    Pending()
    >>> status_of("4", SlurmJob("4", "TIMEOUT"), ExitRecord(143, None, "SIGTERM"), time_limit_min=1)
    Exited(code=124, reason='SLURM stopped the job at its time limit (1 min)', limit='wall_time')
    >>> status_of("4", SlurmJob("4", "FAILED", exit_code=0, signal=9), None,
    ...           b"error: StepId=4.batch exceeded memory limit (9 > 8), being killed",
    ...           memory_mb=8).limit
    'memory'
    >>> print(status_of("4", None, None).reason)  # doctest: +NORMALIZE_WHITESPACE
    SLURM job 4 is unknown to SLURM (not in squeue, scontrol or sacct): purged after it ended,
    or the cluster was reset
    """
    if record is not None and record.signal is None:
        return Exited(record.code, record.reason)
    if job is None:
        if record is not None:
            return Exited(record.code, record.reason)
        return Vanished(
            f"SLURM job {slurm_id} is unknown to SLURM (not in squeue, scontrol or sacct): "
            "purged after it ended, or the cluster was reset"
        )
    if job.state in PENDING_STATES:
        return Pending()
    if job.state in RUNNING_STATES:
        return Running()
    if job.state == "TIMEOUT":
        limit = f" ({time_limit_min} min)" if time_limit_min else ""
        return Exited(TIMEOUT_EXIT, f"SLURM stopped the job at its time limit{limit}", WALL_TIME)
    if job.state == "OUT_OF_MEMORY" or MEMORY_NOTE in log_tail:
        limit = f" of {memory_mb} MiB" if memory_mb else ""
        return Exited(
            KILLED_EXIT, f"SLURM killed the job: its memory went over its limit{limit}", MEMORY
        )
    if job.state in LOST_STATES:
        why = f": {job.reason}" if job.reason and job.reason != "None" else ""
        return Vanished(f"SLURM job {slurm_id} ended {job.state}{why}")
    if job.state == "CANCELLED":
        code = record.code if record is not None else KILLED_EXIT
        return Exited(code, f"SLURM job {slurm_id} was cancelled (scancel)")
    if record is not None:
        return Exited(record.code, record.reason)
    return Exited(
        exit_of_slurm(job),
        f"the job ended without recording its exit (SLURM job {slurm_id}: {job.state}, "
        f"exit code {job.exit_code}:{job.signal}, reason {job.reason or 'none'})",
    )
