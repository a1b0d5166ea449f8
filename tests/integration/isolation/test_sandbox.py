"""The sandbox a job's command runs in, as root: its uid, its areas handed over, nothing left.

Real commands under real uids (outside the default range, no lease: these tests own them).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vatti.isolation.hardening import jobs_get_own_uids
from vatti.isolation.sandbox import Sandbox
from vatti.isolation.uids import JobUser, processes_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not jobs_get_own_uids(), reason="jobs get uids of their own as root only"),
]

JOB, OTHER = JobUser(1_999_990_100, 1_999_990_100), JobUser(1_999_990_101, 1_999_990_101)
ENV = {"PATH": "/usr/bin:/bin"}


def areas(root: Path) -> tuple[Path, Path]:
    """A job's work dir and staged inputs, as the runtime (root) leaves them before a command,
    in a scratch dir others may pass through (0711)."""
    root = root / "scratch"
    root.mkdir(mode=0o711)
    os.chmod(root, 0o711)
    work, inputs = root / "work", root / "inputs"
    work.mkdir(mode=0o700)
    inputs.mkdir(mode=0o700)
    (inputs / "genotypes.txt").write_text("clear text genotypes\n")
    os.chmod(inputs / "genotypes.txt", 0o644)
    return work, inputs


def test_staged_inputs_are_the_jobs_own_and_nobody_elses(tmp_path: Path) -> None:
    work, inputs = areas(tmp_path)
    sandbox = Sandbox(JOB, (work, inputs))
    script = "cat ../inputs/genotypes.txt > copy.txt && id -u > uid.txt"
    assert sandbox.run(["sh", "-c", script], cwd=work, env=ENV) == 0
    assert (work / "copy.txt").read_text() == "clear text genotypes\n"
    assert (work / "uid.txt").read_text() == f"{JOB.uid}\n"
    owned = [(inputs, 0o700), (inputs / "genotypes.txt", 0o600), (work / "copy.txt", 0o600)]
    for path, mode in owned:
        st = path.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (JOB.uid, JOB.gid, mode)
    other = Sandbox(OTHER, ())
    assert other.run(["cat", "genotypes.txt"], cwd=inputs, env=ENV) != 0  # EACCES


def test_handing_over_never_follows_a_link_out_of_the_areas(tmp_path: Path) -> None:
    work, inputs = areas(tmp_path)
    outside = tmp_path / "service-file"
    outside.write_text("the service's\n")
    os.chmod(outside, 0o600)
    (work / "link").symlink_to(outside)
    (work / "dir-link").symlink_to(tmp_path)
    assert Sandbox(JOB, (work, inputs)).run(["true"], cwd=work, env=ENV) == 0
    st = outside.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
    assert tmp_path.stat().st_uid == 0
    assert (work / "link").lstat().st_uid == JOB.uid


def test_what_the_command_leaves_running_is_killed_when_it_exits(tmp_path: Path) -> None:
    work, inputs = areas(tmp_path)
    script = "setsid sleep 1000 & nohup sleep 1000 > /dev/null 2>&1 & echo started"
    assert Sandbox(JOB, (work, inputs)).run(["sh", "-c", script], cwd=work, env=ENV) == 0
    assert processes_of(JOB.uid) == []
