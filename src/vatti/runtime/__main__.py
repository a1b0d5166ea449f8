"""``python -m vatti.runtime --job-id ID``: what executors launch for each job.

The same as ``vatti job-run``, without loading the command-line interface: a job's process
imports only what running a job needs, so it starts fast.
"""

from __future__ import annotations

import argparse
import sys

from vatti.runtime.main import job_run_main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m vatti.runtime")
    parser.add_argument("--job-id", required=True)
    sys.exit(job_run_main(parser.parse_args().job_id))
