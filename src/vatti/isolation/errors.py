"""Errors of job isolation."""

from __future__ import annotations

from vatti.errors import VattiError


class IsolationError(VattiError):
    """Root of errors raised when a job cannot be kept apart as it must."""

    code = "isolation_error"


class NoJobUid(IsolationError):
    """Every uid of the range is leased (or reserved) on this machine."""

    code = "no_job_uid"
    exit_code = 75


class StrayProcesses(IsolationError):
    """Processes of a job's uid could not be killed."""

    code = "stray_processes"
