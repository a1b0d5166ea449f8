"""Where a job's files live in the object store (one place for every key the runtime writes)."""

from __future__ import annotations

MANIFEST_NAME = "manifest.json"


def job_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"


def spec_key(job_id: str) -> str:
    return f"jobs/{job_id}/work/spec.json"


def results_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/results/"


def result_key(job_id: str, name: str) -> str:
    return f"{results_prefix(job_id)}{name}"


def manifest_key(job_id: str) -> str:
    """The manifest sits next to ``results/`` so it is never listed as an output itself."""
    return f"jobs/{job_id}/{MANIFEST_NAME}"
