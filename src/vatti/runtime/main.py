"""The job runtime's entry point: settings of the ``runtime`` component, then one job."""

from __future__ import annotations

import sys

from vatti.config import Settings
from vatti.errors import VattiError
from vatti.logging_setup import configure_logging
from vatti.pipelines.base import default_registry
from vatti.runtime.job import run_job_in


def job_run_main(job_id: str) -> int:
    """Run job ``job_id``; the process exit status (78 for invalid settings)."""
    try:
        settings = Settings.for_component("runtime")
        runtime = settings.runtime
        assert runtime is not None
        configure_logging(settings.common.log_level, replace=False)
        from vatti.staging.objects import ObjectStore

        objects = ObjectStore.from_url(settings.object_store_url())
    except VattiError as exc:
        sys.stderr.write(f"vatti job-run: {exc.message}\n")
        return exc.exit_code
    options = {
        "pgs_catalog_dir": str(settings.pgs_catalog_dir()),
        "pgs_catalog_url": runtime.pgs_catalog_url,
        "pgs_offline": "1" if runtime.pgs_offline else "0",
    }
    if runtime.input_root is not None:
        options["input_root"] = str(runtime.input_root.resolve())
    return run_job_in(job_id, objects, default_registry(), settings.scratch_dir(), options)
