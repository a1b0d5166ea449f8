"""Errors of the job runtime."""

from __future__ import annotations

from vatti.errors import VattiError


class RuntimeFailure(VattiError):
    """Root of errors raised by ``vatti job-run``."""

    code = "runtime_error"


class Terminated(RuntimeFailure):
    """The job process was asked to stop (SIGTERM/SIGINT): cancellation or a timeout."""

    code = "terminated"
    exit_code = 143

    def __init__(self, signum: int) -> None:
        super().__init__(f"job process received signal {signum}")
        self.signum = signum


class InvalidSpec(RuntimeFailure):
    """The job's spec.json is missing or unreadable."""

    code = "invalid_spec"
    exit_code = 2
