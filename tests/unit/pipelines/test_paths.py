"""Relative output names: what is refused says why, and the documented pattern agrees."""

from __future__ import annotations

import re

import pytest

from vatti.pipelines.command import params_model
from vatti.pipelines.command_catalog import CommandCatalog
from vatti.pipelines.paths import MAX_LEN, RELATIVE_PATH_PATTERN, safe_relative_path

pytestmark = pytest.mark.unit

NORMAL = ["a", "a.txt", "out/scores.tsv", ".hidden", "..a", "...", "a/.../b", "日本 x.txt"]
WITH_DOTS = ["./a", "a/.", "a/./b", "././a"]
REFUSED = [
    "",
    ".",
    "./.",
    "..",
    "../a",
    "a/..",
    "a/../b",
    "a//b",
    "a/",
    "/a",
    "a\\b",
    "a\x01",
    "x" * 513,
]


@pytest.mark.parametrize("name", ["/etc/passwd", "/", "//a"])
def test_an_absolute_path_is_refused_as_absolute(name: str) -> None:
    with pytest.raises(ValueError, match="not an absolute path"):
        safe_relative_path(name)


def test_an_absolute_output_gets_its_own_message_in_command_params() -> None:
    raw_argv = params_model(CommandCatalog(), allow_raw_argv=True)
    with pytest.raises(ValueError, match=r"outputs\.0[\s\S]*not an absolute path"):
        raw_argv.model_validate({"argv": ["true"], "outputs": ["/tmp/x"]})


def test_traversal_is_refused_as_traversal() -> None:
    with pytest.raises(ValueError, match=r"without '\.\.'"):
        safe_relative_path("a/../../b")


@pytest.mark.parametrize("name", NORMAL + WITH_DOTS + REFUSED)
def test_the_documented_pattern_is_the_normal_form(name: str) -> None:
    documented = re.fullmatch(RELATIVE_PATH_PATTERN, name) is not None and len(name) <= MAX_LEN
    try:
        normal = safe_relative_path(name)
    except ValueError:
        assert not documented
        return
    assert re.fullmatch(RELATIVE_PATH_PATTERN, normal)
    assert documented == (normal == name)
