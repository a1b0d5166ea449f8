"""Pipelines: what a job runs. Each turns validated params into work inside ``vatti job-run``."""
