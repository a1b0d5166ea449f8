"""The examples in the package's docstrings hold (they are documentation users read)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import vatti

pytestmark = pytest.mark.unit

#: Alembic's env.py runs a migration when imported; it has no examples.
SKIP = ("vatti.store.migrations",)


def modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(vatti.__path__, prefix="vatti."):
        if info.name.startswith(SKIP):
            continue
        module = importlib.import_module(info.name)
        if any(test.examples for test in doctest.DocTestFinder().find(module)):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_examples_are_found() -> None:
    assert "vatti.engine.notifications" in modules_with_examples()
