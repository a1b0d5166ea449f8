"""One attempt of a vatti job in its Kubernetes pod: the container's command.

``python -m vatti.executors.kubernetes_pod --job-id ID --attempt N --entry MODULE:FN
--memory-mb M --secrets FILE`` (:func:`vatti.executors.kubernetes_objects.pod_command`). It
makes the runtime's dirs in the pod's ``emptyDir`` (the root file system is read-only), reads
the launch's secrets from the file the job's Secret is mounted as (refusing one written for
another job or attempt), forks the job runtime as every executor does
(:func:`vatti.executors.launcher.fork_in_group`: the secrets on a pipe named by
``VATTI_SECRETS_FD``, ``RLIMIT_AS`` at the memory limit, its output on the container's, which
is the pod's log), passes SIGTERM on to the job's process group (the kubelet signals PID 1
alone) and exits with the job's status (128 + N when signal N killed it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from vatti.executors import launcher

#: the job's process group, once forked
_group: list[int] = []
_received: list[int] = []
#: variables of the container that are not the runtime's business (the API server's address)
_DROPPED_PREFIXES = ("KUBERNETES_",)


def _forward(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    for pgid in _group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)


def say(line: str) -> None:
    sys.stderr.write(f"vatti kubernetes pod: {line}\n")
    sys.stderr.flush()


def read_secrets(path: Path, job_id: str, attempt: int) -> dict[str, str]:
    """The launch's secrets from the mounted Secret; ValueError when they are not this
    attempt's."""
    body = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(body, dict) or (body.get("job_id"), body.get("attempt")) != (
        job_id,
        attempt,
    ):
        raise ValueError(f"the secrets in {path} belong to another job or attempt")
    secrets = body.get("secrets")
    if not isinstance(secrets, dict):
        raise ValueError(f"the secrets in {path} are not an object")
    return {str(k): str(v) for k, v in secrets.items()}


def runtime_env(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith(_DROPPED_PREFIXES)}


def run(args: argparse.Namespace) -> int:
    env = runtime_env(dict(os.environ))
    for name in ("VATTI_SCRATCH_DIR", "HOME", "TMPDIR"):
        if env.get(name):
            Path(env[name]).mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        secrets = read_secrets(Path(args.secrets), args.job_id, args.attempt)
    except (OSError, ValueError) as exc:
        say(f"the job's secrets could not be read: {exc}")
        return launcher.CANNOT_START
    request = {
        "job_id": args.job_id,
        "attempt": args.attempt,
        "env": env,
        "entry": args.entry,
        "memory_mb": args.memory_mb,
    }
    pid = launcher.fork_in_group(request, os.dup(1), json.dumps(secrets).encode())
    del secrets
    _group.append(pid)
    if _received:  # stopped while it was being forked
        _forward(_received[0], None)
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(ProcessLookupError, PermissionError):  # what is left of its group
        os.killpg(pid, signal.SIGKILL)
    code, reason = launcher.status_of(os.waitstatus_to_exitcode(status))
    if reason:
        say(reason)
    return code


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="python -m vatti.executors.kubernetes_pod")
    parse.add_argument("--job-id", required=True)
    parse.add_argument("--attempt", type=int, required=True)
    parse.add_argument("--entry", required=True)
    parse.add_argument("--memory-mb", type=int, default=0)
    parse.add_argument("--secrets", required=True)
    return parse


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for signum in launcher.STOP_SIGNALS:
        signal.signal(signum, _forward)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
