"""The scoring pass's thread pool: results in task order, tasks side by side, errors raised."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
import threadpoolctl

from vatti.pipelines.pgs.blockpool import one_blas_thread, ordered_map

pytestmark = pytest.mark.unit

WAIT_S = 30.0  # a deadlock fails the test instead of hanging it


def test_results_come_in_task_order_while_tasks_run_side_by_side() -> None:
    second_done = threading.Event()

    def first() -> str:
        # finishes only once the second task has: they must run at the same time
        assert second_done.wait(WAIT_S), "the second task did not run alongside the first"
        return "first"

    def second() -> str:
        second_done.set()
        return "second"

    assert list(ordered_map([first, second, lambda: "third"], threads=2)) == [
        "first",
        "second",
        "third",
    ]


def test_a_task_error_is_raised_to_the_caller() -> None:
    def broken() -> int:
        raise ValueError("bad block")

    tasks: list[Callable[[], int]] = [lambda: 1, broken, lambda: 3]
    results = ordered_map(tasks, threads=2)
    assert next(results) == 1
    with pytest.raises(ValueError, match="bad block"):
        next(results)


def test_one_thread_runs_the_tasks_in_the_caller_thread() -> None:
    caller = threading.get_ident()
    assert list(ordered_map([threading.get_ident] * 3, threads=1)) == [caller] * 3


def test_blas_runs_on_one_thread_inside_and_gives_the_same_product() -> None:
    a = np.arange(12.0).reshape(3, 4)
    with one_blas_thread():
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert all(p["num_threads"] == 1 for p in blas)
        inside = a @ a.T
    np.testing.assert_array_equal(inside, a @ a.T)
