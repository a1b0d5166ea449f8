"""The job runtime, ``vatti job-run``: the program every executor launches for one job.

Entry point: :func:`vatti.runtime.job.run_job`.
"""
