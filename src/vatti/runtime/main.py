"""The job runtime's entry point: the ``runtime`` component's settings, then one job.

The settings come from the environment the executor gave the job (plain ``VATTI_*`` values,
see :func:`vatti.config.runtime_launch_settings`) with the secret ones overlaid: those the
executor wrote, as one JSON object ``{"VATTI_NAME": "value"}``, to an inherited pipe whose fd
number is in ``VATTI_SECRETS_FD``. The pipe is read to its end and closed before anything else,
and the variable dropped, so no child of the job sees it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import MutableMapping

from vatti.config import PREFIX, Settings
from vatti.errors import ConfigError, VattiError
from vatti.isolation.hardening import forbid_new_privileges, protect_process
from vatti.logging_setup import configure_logging
from vatti.pipelines.base import JobSettings, settings_registry
from vatti.runtime.job import run_job_in

#: the variable naming the fd of the pipe that carries the launch secrets
SECRETS_FD = f"{PREFIX}SECRETS_FD"


def read_launch_secrets(environ: MutableMapping[str, str]) -> dict[str, str]:
    """The secrets on the pipe named by ``VATTI_SECRETS_FD`` (none when it is unset).

    Reads the pipe to its end, closes it and removes the variable from ``environ``. Raises
    ConfigError (never quoting what was read) when the pipe cannot be read or holds anything
    but a JSON object of ``VATTI_*`` names to strings.
    """
    text = environ.pop(SECRETS_FD, None)
    if text is None:
        return {}
    if not text.strip().isdigit() or int(text) <= 2:
        raise ConfigError(f"{SECRETS_FD}: expected the number of an inherited pipe, got {text!r}")
    fd = int(text)
    try:
        with open(fd, "rb", closefd=True) as pipe:
            data = pipe.read()
    except OSError as exc:
        raise ConfigError(
            f"{SECRETS_FD}: cannot read the launch secrets from fd {fd}: {exc.strerror}"
        ) from None
    try:
        secrets = json.loads(data)
    except ValueError:
        secrets = None
    if not isinstance(secrets, dict) or not all(
        isinstance(k, str) and k.upper().startswith(PREFIX) and isinstance(v, str)
        for k, v in secrets.items()
    ):
        raise ConfigError(
            f"{SECRETS_FD}: the launch secrets are not a JSON object of {PREFIX}* names to strings"
        )
    return secrets


def job_run_main(job_id: str) -> int:
    """Run job ``job_id``; the process exit status (78 for invalid settings).

    The process is made undumpable (its environment and memory unreadable by a job's command of
    the same uid) and may not gain privileges, nor may the commands it starts.
    """
    protect_process()
    forbid_new_privileges()
    try:
        secrets = read_launch_secrets(os.environ)
        settings = Settings.for_component("runtime", overlay=secrets)
        configure_logging(settings.common.log_level, replace=False)
        from vatti.staging.stores import open_stores

        stores = open_stores(settings)
    except VattiError as exc:
        sys.stderr.write(f"vatti job-run: {exc.message}\n")
        return exc.exit_code
    return run_job_in(
        job_id,
        stores.work,
        settings_registry(settings),
        settings.scratch_dir(),
        JobSettings.from_settings(settings),
        results=stores.results,
        sources=settings.sources,
        buckets=settings.store,
        job_uids=settings.runtime.job_uids() if settings.runtime is not None else None,
    )
