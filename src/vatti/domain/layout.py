"""Every object key of a job's areas, in one place (pure).

A job has two areas, which may live in different stores (the results area in a separate bucket):

- its **work area** ``jobs/<id>/``: ``work/spec.json`` (what the runtime runs), the outcome record
  ``outcome.json`` (how the runtime tells the engine what happened) and the saved log
  ``logs/job.log``; clear-text inputs never go there, only into the job's local scratch;
- its **results area** ``jobs/<id>/``: the outputs under ``results/`` and ``manifest.json`` next
  to them (so the manifest is never listed as an output itself).

>>> spec_key("j1"), outcome_key("j1"), log_key("j1")
('jobs/j1/work/spec.json', 'jobs/j1/outcome.json', 'jobs/j1/logs/job.log')
>>> result_key("j1", "scores/a.txt"), manifest_key("j1")
('jobs/j1/results/scores/a.txt', 'jobs/j1/manifest.json')
>>> job_id_of("jobs/j1/work/spec.json"), job_id_of("other/x")
('j1', None)
"""

from __future__ import annotations

JOBS_PREFIX = "jobs/"
WORK_DIR = "work"
RESULTS_DIR = "results"
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


def results_prefix(job_id: str) -> str:
    return f"{job_prefix(job_id)}{RESULTS_DIR}/"


def result_key(job_id: str, name: str) -> str:
    return f"{results_prefix(job_id)}{name}"


def manifest_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}{MANIFEST_NAME}"


def job_id_of(key: str) -> str | None:
    """The job id a key belongs to, or None for a key outside ``jobs/``."""
    if not key.startswith(JOBS_PREFIX):
        return None
    job_id = key[len(JOBS_PREFIX) :].partition("/")[0]
    return job_id or None


def is_work_key(key: str) -> bool:
    """Whether ``key`` lies in a job's ``work/`` directory.

    >>> is_work_key("jobs/j1/work/spec.json"), is_work_key("jobs/j1/results/work/x")
    (True, False)
    """
    parts = key.split("/")
    return len(parts) > 3 and parts[0] + "/" == JOBS_PREFIX and parts[2] == WORK_DIR
