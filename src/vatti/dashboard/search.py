"""Finding jobs for the list page: the job service's pages, filtered by a search.

The job service lists by state and pipeline; a search (an id, a client id, a label) is matched
here on the jobs it lists, newest first, over at most :data:`MAX_SCANNED` jobs per page shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vatti.dashboard.views import matches
from vatti.domain.access import Caller
from vatti.domain.ids import ID_PATTERN
from vatti.domain.jobs import Job
from vatti.domain.states import JobState
from vatti.service.jobs import JobService
from vatti.store.errors import JobNotFound

PAGE = 50
MAX_SCANNED = 2000


@dataclass(frozen=True)
class Found:
    jobs: list[Job]
    next_cursor: str | None
    #: False when the scan stopped at MAX_SCANNED before the end of the jobs
    complete: bool = True


def find_jobs(
    service: JobService,
    caller: Caller,
    *,
    states: Iterable[JobState] | None,
    pipeline: str | None,
    query: str,
    cursor: str | None = None,
) -> Found:
    states = list(states) if states else None
    query = query.strip()
    if not query:
        page = service.list_jobs(
            caller=caller, state=states, pipeline=pipeline, limit=PAGE, cursor=cursor
        )
        return Found(list(page.items), page.next_cursor)
    if ID_PATTERN.fullmatch(query):  # a whole id: that job, if the caller sees it
        try:
            job = service.get(query, caller=caller)
        except JobNotFound:
            return Found([], None)
        keep = (states is None or job.state in states) and pipeline in (None, job.pipeline)
        return Found([job] if keep else [], None)
    found: list[Job] = []
    scanned = 0
    while scanned < MAX_SCANNED:
        page = service.list_jobs(
            caller=caller, state=states, pipeline=pipeline, limit=500, cursor=cursor
        )
        scanned += len(page.items)
        found.extend(j for j in page.items if matches(j, query))
        cursor = page.next_cursor
        if cursor is None or len(found) >= PAGE:
            return Found(found[:PAGE], cursor if len(found) >= PAGE else None)
    return Found(found[:PAGE], cursor, complete=False)
