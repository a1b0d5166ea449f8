"""Leases on job uids: one running job a uid, freed however its holder ends, cleared of strays.

Real lock files in a directory of the test's own, on uids outside the default range (so the
jobs other test runs start on this machine are not disturbed); root only, as the leases are.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vatti.domain.layout import outcome_key, spec_key
from vatti.domain.outcome import Outcome
from vatti.isolation.errors import NoJobUid
from vatti.isolation.hardening import jobs_get_own_uids
from vatti.isolation.uid_range import UidRange
from vatti.isolation.uids import UidLeases, processes_of
from vatti.pipelines.base import default_registry
from vatti.runtime.job import run_job_in
from vatti.staging.objects import ObjectStore

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not jobs_get_own_uids(), reason="jobs get uids of their own as root only"),
]

FIRST = 1_999_990_000

HOLD = """
import sys
from pathlib import Path
from vatti.isolation.uid_range import UidRange
from vatti.isolation.uids import UidLeases
with UidLeases(UidRange({first}, {first}), Path(sys.argv[1])).lease("holder") as user:
    print(f"leased {{user.uid}}", flush=True)
    sys.stdin.read()
"""


def test_two_running_jobs_never_share_a_uid_and_a_full_range_is_refused(tmp_path: Path) -> None:
    leases = UidLeases(UidRange(FIRST, FIRST + 1), tmp_path)
    with leases.lease("job-a") as a, leases.lease("job-b") as b:
        assert {a.uid, b.uid} == {FIRST, FIRST + 1}
        assert (a.gid, b.gid) == (a.uid, b.uid)
        with pytest.raises(NoJobUid, match="no free job uid"), leases.lease("job-c"):
            pass
    with leases.lease("job-c") as c:  # both were released
        assert c.uid in (FIRST, FIRST + 1)


def test_a_uid_is_free_again_when_its_holder_is_killed(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLD.format(first=FIRST), str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline() == f"leased {FIRST}\n"
        leases = UidLeases(UidRange(FIRST, FIRST), tmp_path)
        with pytest.raises(NoJobUid), leases.lease("other"):
            pass  # held by another process
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with leases.lease("other") as user:
            assert user.uid == FIRST


def test_a_stray_process_of_an_earlier_job_is_killed_before_its_uid_is_leased_again(
    tmp_path: Path,
) -> None:
    stray = subprocess.Popen(
        ["setsid", "sleep", "1000"], user=FIRST, group=FIRST, extra_groups=[], cwd="/"
    )
    try:
        assert processes_of(FIRST) == [stray.pid]
        with UidLeases(UidRange(FIRST, FIRST), tmp_path).lease("next") as user:
            assert user.uid == FIRST
            assert processes_of(FIRST) == []
        assert stray.wait() == -signal.SIGKILL
    finally:
        stray.kill()
        stray.wait()


def test_uids_of_known_users_and_groups_are_never_leased(tmp_path: Path) -> None:
    nobody = 65534  # in the user database of every Linux system
    with pytest.raises(NoJobUid), UidLeases(UidRange(nobody, nobody), tmp_path).lease("j"):
        pass
    assert not os.listdir(tmp_path)  # not even tried


def test_a_job_without_a_free_uid_fails_with_its_reason_and_never_runs(tmp_path: Path) -> None:
    objects = ObjectStore.from_url((tmp_path / "objects").as_uri())
    marker = tmp_path / "ran"
    spec = {"pipeline": "command", "params": {"argv": ["touch", str(marker)]}}
    objects.put_bytes(spec_key("j1"), json.dumps(spec).encode())
    nobody = UidRange(65534, 65534)  # the one uid there is belongs to a user
    code = run_job_in("j1", objects, default_registry(), tmp_path / "scratch", job_uids=nobody)
    assert code == 1
    failure = Outcome.from_json(objects.get_bytes(outcome_key("j1"))).failure
    assert failure is not None
    assert failure.code == "no_job_uid"
    assert "65534-65534" in failure.message
    assert not marker.exists()
