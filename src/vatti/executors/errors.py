"""Errors of the executors."""

from __future__ import annotations

from vatti.errors import VattiError


class ExecutorError(VattiError):
    """An executor could not do what it was asked."""

    code = "executor_error"
    exit_code = 70  # EX_SOFTWARE


class SubmitFailed(ExecutorError):
    """The job's process could not be started."""

    code = "executor_submit_failed"


class BadHandle(ExecutorError):
    """A handle is not one this executor wrote (corrupt, or from another executor)."""

    code = "executor_bad_handle"
