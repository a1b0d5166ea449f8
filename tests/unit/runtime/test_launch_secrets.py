"""The runtime reads its secrets from the inherited pipe named by VATTI_SECRETS_FD."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from vatti.errors import ConfigError
from vatti.runtime.main import SECRETS_FD, read_launch_secrets

pytestmark = pytest.mark.unit


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_the_pipe_is_read_to_its_end_closed_and_forgotten(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.write(write_end, b'{"VATTI_STORE_KEY": "k3y", "vatti_other": "x"}')
    os.close(write_end)
    environ = {SECRETS_FD: str(read_end), "VATTI_DATA_DIR": "/data"}
    assert read_launch_secrets(environ) == {"VATTI_STORE_KEY": "k3y", "vatti_other": "x"}
    assert not is_open(read_end)
    assert environ == {"VATTI_DATA_DIR": "/data"}  # children never see the fd number


def test_no_pipe_means_no_secrets() -> None:
    assert read_launch_secrets({"VATTI_DATA_DIR": "/data"}) == {}


@pytest.mark.parametrize("value", ["", "three", "-4", "0", "2"])
def test_a_value_that_names_no_inherited_pipe_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=f"{SECRETS_FD}: expected the number") as caught:
        read_launch_secrets({SECRETS_FD: value})
    assert caught.value.exit_code == 78


def test_a_pipe_that_was_not_inherited_is_refused(pipe: tuple[int, int]) -> None:
    read_end, _ = pipe
    os.close(read_end)
    with pytest.raises(ConfigError, match="cannot read the launch secrets"):
        read_launch_secrets({SECRETS_FD: str(read_end)})


@pytest.mark.parametrize(
    "data",
    [b"hunter2", b'["hunter2"]', b'{"PASSWORD": "hunter2"}', b'{"VATTI_KEY": 42}', b""],
)
def test_anything_but_an_object_of_vatti_names_is_refused_without_quoting_it(
    pipe: tuple[int, int], data: bytes
) -> None:
    read_end, write_end = pipe
    os.write(write_end, data)
    os.close(write_end)
    with pytest.raises(ConfigError) as caught:
        read_launch_secrets({SECRETS_FD: str(read_end)})
    assert "not a JSON object of VATTI_* names to strings" in caught.value.message
    assert "hunter2" not in caught.value.message
    assert not is_open(read_end)
