"""Every object key of a job's areas, in one place (pure).

A job has two areas, which may live in different stores (``VATTI_OBJECT_STORE_URL`` and
``VATTI_RESULTS_STORE_URL``: the results area in a separate bucket, as hattivatti's ``-results``
bucket), each under a top-level prefix of its own, so that one bucket lifecycle rule on
``results/`` expires results and nothing else even when both areas share a store:

- its **work area** ``jobs/<id>/``: ``work/spec.json`` (what the runtime runs), the outcome record
  ``outcome.json`` (how the runtime tells the engine what happened) and the saved log
  ``logs/job.log``; clear-text inputs never go there, only into the job's local scratch;
- its **results area** ``results/<id>/``: the outputs under ``outputs/`` and ``manifest.json``
  next to them (so the manifest is never listed as an output itself).

Each area is named by the job's id alone (a random UUID), whole path segments, so one job's
prefix never covers another's.

>>> spec_key("j1"), outcome_key("j1"), log_key("j1")
('jobs/j1/work/spec.json', 'jobs/j1/outcome.json', 'jobs/j1/logs/job.log')
>>> result_key("j1", "scores/a.txt"), manifest_key("j1")
('results/j1/outputs/scores/a.txt', 'results/j1/manifest.json')
>>> job_id_of("jobs/j1/work/spec.json"), job_id_of("results/j1/manifest.json"), job_id_of("x/y")
('j1', 'j1', None)
"""

from __future__ import annotations

JOBS_PREFIX = "jobs/"
#: the prefix of every results area (the one a bucket lifecycle rule expires)
RESULTS_PREFIX = "results/"
WORK_DIR = "work"
OUTPUTS_DIR = "outputs"
LOGS_DIR = "logs"
SPEC_NAME = "spec.json"
MANIFEST_NAME = "manifest.json"
OUTCOME_NAME = "outcome.json"
LOG_NAME = "job.log"


def job_prefix(job_id: str) -> str:
    return f"{JOBS_PREFIX}{job_id}/"


def work_prefix(job_id: str) -> str:
    return f"{job_prefix(job_id)}{WORK_DIR}/"


def spec_key(job_id: str) -> str:
    return f"{work_prefix(job_id)}{SPEC_NAME}"


def outcome_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}{OUTCOME_NAME}"


def log_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}{LOGS_DIR}/{LOG_NAME}"


def results_area(job_id: str) -> str:
    """The prefix of the job's whole results area (outputs and manifest)."""
    return f"{RESULTS_PREFIX}{job_id}/"


def results_prefix(job_id: str) -> str:
    """The prefix of the job's outputs."""
    return f"{results_area(job_id)}{OUTPUTS_DIR}/"


def result_key(job_id: str, name: str) -> str:
    return f"{results_prefix(job_id)}{name}"


def manifest_key(job_id: str) -> str:
    return f"{results_area(job_id)}{MANIFEST_NAME}"


def job_id_of(key: str) -> str | None:
    """The job id a key of a work or results area belongs to, or None for another key."""
    for prefix in (JOBS_PREFIX, RESULTS_PREFIX):
        if key.startswith(prefix):
            return key[len(prefix) :].partition("/")[0] or None
    return None


def is_work_key(key: str) -> bool:
    """Whether ``key`` lies in a job's ``work/`` directory.

    >>> is_work_key("jobs/j1/work/spec.json"), is_work_key("results/j1/outputs/work/x")
    (True, False)
    """
    parts = key.split("/")
    return len(parts) > 3 and parts[0] + "/" == JOBS_PREFIX and parts[2] == WORK_DIR
