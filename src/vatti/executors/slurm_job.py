"""One attempt of a vatti job in its SLURM job (``python -m vatti.executors.slurm_job RUN_DIR N``).

The batch script (:mod:`.slurm_runs`) execs this wrapper on the node SLURM chose. It reads the
attempt's request, opens the launch's secrets (sealed with the spool's key, a file it deletes as
it reads it), forks the job runtime as the other executors do
(:func:`vatti.executors.launcher.run_job`: the runtime's environment only, ``RLIMIT_AS``, the
secrets on a pipe named by ``VATTI_SECRETS_FD``) with its output on the batch step's (the job's
log), waits for it, kills what is left of its process group and records the exit atomically.

SLURM stops a job by signalling it (``scancel``, the time limit, the memory limit): the wrapper
passes the signal on to the job's group, which decides how to stop, and notes that it was
signalled, so the executor asks SLURM why. After ``KillWait`` SLURM kills what is left,
the wrapper included (then there is no record and SLURM's state is all there is).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from vatti.executors import launcher
from vatti.executors.slurm_runs import ExitRecord, RunFiles

_received: list[str] = []
#: the job's process group, once forked
_group: list[int] = []


def _note(signum: int, _frame: FrameType | None) -> None:
    """Note the signal and pass it on to the job's group (SLURM may signal the batch script
    alone: ``scancel --full`` does)."""
    _received.append(signal.Signals(signum).name)
    for pgid in _group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)


def say(line: str) -> None:
    """A line in the job's log, from the wrapper."""
    sys.stderr.write(f"vatti slurm job: {line}\n")
    sys.stderr.flush()


def open_secrets(files: RunFiles, spool: Path) -> dict[str, str]:
    """The launch's secrets (the sealed file is deleted as it is read)."""
    try:
        sealed = files.sealed.read_text(encoding="ascii")
    except FileNotFoundError:
        return {}
    finally:
        with contextlib.suppress(FileNotFoundError):
            files.sealed.unlink()
    from vatti.executors.sealed_secrets import SealBroken, unseal
    from vatti.secretbox import key_file_keys

    try:
        return unseal(key_file_keys(spool), files.job_id, files.attempt, sealed)
    except SealBroken:
        raise SealBroken(
            f"the job's secrets could not be opened with {spool / 'secret.key'} on this node: "
            "the spool directory (VATTI_SLURM_SPOOL_DIR) must be the engine's, on a shared "
            "filesystem"
        ) from None


def run(files: RunFiles) -> int:
    request = json.loads(files.request.read_text(encoding="utf-8"))
    spool = Path(str(request["spool_dir"]))
    try:
        secrets = json.dumps(open_secrets(files, spool)).encode()
    except Exception as exc:  # a broken seal, an unreadable key: the job cannot start
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        say(reason)
        files.write_exit(ExitRecord(launcher.CANNOT_START, reason))
        return launcher.CANNOT_START
    pid = launcher.fork_in_group(request, os.dup(1), secrets)  # its output on ours
    _group.append(pid)
    if _received:  # stopped while it was being forked
        _note(signal.Signals[_received[0]], None)
    del secrets
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(ProcessLookupError, PermissionError):  # what is left of its group
        os.killpg(pid, signal.SIGKILL)
    code, reason = launcher.status_of(os.waitstatus_to_exitcode(status))
    files.write_exit(ExitRecord(code, reason, _received[0] if _received else None))
    return code


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[2].isdigit():
        say("usage: python -m vatti.executors.slurm_job RUN_DIR ATTEMPT")
        return 2
    run_dir = Path(argv[1])
    for signum in launcher.STOP_SIGNALS:
        signal.signal(signum, _note)
    return run(RunFiles(run_dir.parent, run_dir.name, int(argv[2])))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
