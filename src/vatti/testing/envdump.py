"""A job entry point that prints its environment as JSON (executor tests of job isolation)."""

from __future__ import annotations

import json
import os


def main(job_id: str) -> int:
    print(json.dumps(dict(os.environ)), flush=True)
    return 0
