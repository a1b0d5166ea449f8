"""Work on several cores, results in order: the scoring pass's thread pool.

numpy's array maths and pgenlib's decoding release the GIL, so threads score blocks of variants
side by side. Results come back in submission order and the caller adds them up in that order,
so the sums are the same, to the last bit, as one thread's. While the pool runs, BLAS uses one
thread per call (:func:`one_blas_thread`): our threads already fill the cores, and OpenBLAS's
own, spinning for work on a busy machine, made a block's matrix product several times slower.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

T = TypeVar("T")

#: Tasks queued ahead of the one whose result is awaited, per thread: enough to keep every
#: thread busy, few enough to bound the memory of results not yet consumed.
AHEAD_PER_THREAD = 1


def available_cores() -> int:
    """The cores this process may run on.

    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def one_blas_thread() -> AbstractContextManager[object]:
    """Within it, BLAS calls (numpy's ``@``) run on the calling thread alone."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a core dependency; without it BLAS picks
        return nullcontext()
    limits: AbstractContextManager[object] = threadpool_limits(limits=1, user_api="blas")
    return limits


def ordered_map(tasks: Iterable[Callable[[], T]], threads: int) -> Iterator[T]:
    """The result of each task, in the order of ``tasks``, computed by ``threads`` threads.

    ``tasks`` is consumed lazily on the calling thread (reading a file there keeps at most
    ``AHEAD_PER_THREAD * threads`` tasks in flight). A task's exception is raised here; closing
    the iterator early cancels the tasks not started.

    >>> list(ordered_map([lambda k=k: k * k for k in range(5)], threads=2))
    [0, 1, 4, 9, 16]
    """
    if threads <= 1:
        for task in tasks:
            yield task()
        return
    pool = ThreadPoolExecutor(threads, thread_name_prefix="vatti-score")
    pending: deque[Future[T]] = deque()
    try:
        for task in tasks:
            pending.append(pool.submit(task))
            if len(pending) > AHEAD_PER_THREAD * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
