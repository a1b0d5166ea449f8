"""hattivatti's Kafka flow against a real Kafka-protocol broker (Tansu) and ``vatti engine``:
a job message in, its status messages out; malformed and invalid messages dead-lettered (with a
``Failed`` status when their run can be named); a second message with a known INTP id creates
and sends nothing; and a SIGKILL between reading a message and storing its job loses nothing:
after a restart there is exactly one job and every status is sent."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.e2e.conftest import clean_env, kill_group, wait_for
from tests.e2e.test_encrypted_inputs import DIR, SECRET_ID, cohort_on_collection

from vatti.secretbox import new_key
from vatti.testing.kafka import Broker, Received, TopicReader, Topics, events, produce
from vatti.testing.kafka_engine import HELD
from vatti.testing.messages import cohort_message
from vatti.testing.standins import StandIns

pytestmark = pytest.mark.e2e

RUN = "INTP00000042"
#: one key for every message a test sends: one partition, so they are handled in order
KEY = b"backend"
START_TIMEOUT_S = 60.0


def message(files: list[dict[str, Any]], run: str = RUN, **beside: Any) -> dict[str, Any]:
    return {**cohort_message(run, DIR, files, "scores/PGS999903.txt.gz", SECRET_ID), **beside}


class Engines:
    """The ``vatti engine`` processes of one test, sharing a data dir and the Kafka settings."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, *argv: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp / f"engine-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", *argv],
                cwd=self.tmp,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)

        def started() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"{argv} exited\n{log.read_text(errors='replace')}")
            return "intake.started" in log.read_text(errors="replace")

        wait_for(started, START_TIMEOUT_S, "the engine's Kafka intake to start")
        return proc, log

    def engine(self) -> tuple[subprocess.Popen[bytes], Path]:
        return self.spawn("vatti", "engine")

    def jobs(self) -> list[tuple[str, str]]:
        """(client_id, state) of every stored job."""
        url = self.env.get("VATTI_DATABASE_URL") or f"sqlite:///{self.tmp / 'data' / 'vatti.db'}"
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT client_id, state FROM jobs")).all()
        finally:
            engine.dispose()
        return [(str(r[0]), str(r[1])) for r in rows]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    kill_group(proc)
                    proc.wait()
            kill_group(proc)


@pytest.fixture
def engines(
    tmp_path: Path, kafka_broker: Broker, kafka_topics: Topics, standins: StandIns
) -> Iterator[Engines]:
    env = clean_env(
        VATTI_DATA_DIR=str(tmp_path / "data"),
        VATTI_INPUT_ROOT=str(tmp_path / "work"),
        VATTI_PGS_OFFLINE="1",
        VATTI_POLL_INTERVAL="0.2",
        **standins.env(),
        **kafka_topics.env(kafka_broker.bootstrap),
    )
    running = Engines(tmp_path, env)
    try:
        yield running
    finally:
        running.stop_all()


def ended(received: Sequence[Received]) -> bool:
    return bool({"Succeeded", "Failed"} & set(events(received)))


async def test_a_job_message_in_gives_its_statuses_out(
    tmp_path: Path,
    engines: Engines,
    kafka_broker: Broker,
    kafka_topics: Topics,
    standins: StandIns,
) -> None:
    files = cohort_on_collection(tmp_path / "work", standins)
    engines.engine()
    async with TopicReader(kafka_broker.bootstrap, kafka_topics.status) as statuses:
        # an unknown top-level field is ignored, as hattivatti does
        await produce(
            kafka_broker.bootstrap, kafka_topics.launch, message(files, requester="x"), key=KEY
        )
        got = await statuses.until(ended, timeout_s=180)
        assert events(got) == ["Deployed", "Succeeded"], [r.value for r in got]
        assert {r.json()["run_name"] for r in got} == {RUN}
        assert {r.key for r in got} == {RUN.encode()}
        assert all(r.json()["utc_time"].endswith("Z") for r in got)
        assert set(got[-1].json()) == {"run_name", "utc_time", "event"}
        assert engines.jobs() == [(RUN, "succeeded")]

        # the same INTP id again creates nothing and sends nothing new: once the unreadable
        # message sent after it is dead-lettered, the duplicate was handled (same partition)
        async with TopicReader(kafka_broker.bootstrap, kafka_topics.dead_letter) as dead:
            await produce(
                kafka_broker.bootstrap, kafka_topics.launch, message(files), b"{not json", key=KEY
            )
            (letter,) = await dead.until(lambda r: len(r) >= 1)
        assert letter.value == b"{not json"
        assert await statuses.quiet() == []
    assert engines.jobs() == [(RUN, "succeeded")]


async def test_malformed_and_invalid_messages_are_dead_lettered_with_their_reason(
    engines: Engines, kafka_broker: Broker, kafka_topics: Topics
) -> None:
    engines.engine()
    invalid = message([], run="INTP00000043")
    del invalid["pipeline_param"]["target_genomes"]
    values = [b"\xff not json", {"pipeline": "pgs", "params": {}}, invalid]
    async with (
        TopicReader(kafka_broker.bootstrap, kafka_topics.dead_letter) as dead,
        TopicReader(kafka_broker.bootstrap, kafka_topics.status) as statuses,
    ):
        await produce(kafka_broker.bootstrap, kafka_topics.launch, *values, key=KEY)
        letters = await dead.until(lambda r: len(r) >= 3)
        (failed,) = await statuses.until(lambda r: len(r) >= 1)
    assert [r.value for r in letters[:2]] == [
        b"\xff not json",
        b'{"pipeline": "pgs", "params": {}}',
    ]
    assert {r.key for r in letters} == {KEY}
    reasons = [r.headers["vatti-error"].decode() for r in letters]
    assert "not valid JSON" in reasons[0]
    assert "no pipeline_param" in reasons[1]
    assert "pipeline_param.target_genomes" in letters[2].headers["vatti-error-details"].decode()
    assert letters[2].headers["vatti-source"].decode().startswith(kafka_topics.launch + "/")
    assert failed.json()["run_name"] == "INTP00000043"
    assert failed.json()["event"] == "Failed"
    assert failed.json()["trace_name"] == "message validation"
    assert engines.jobs() == []


@contextlib.contextmanager
def hold_socket() -> Iterator[tuple[str, socket.socket]]:
    """A Unix socket the held engine says ``held`` on (short path: sun_path is 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="vk")) / "hold"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(START_TIMEOUT_S)
    try:
        yield str(path), server
    finally:
        server.close()
        path.unlink(missing_ok=True)
        path.parent.rmdir()


async def test_a_kill_between_reading_and_storing_loses_nothing(
    tmp_path: Path,
    engines: Engines,
    kafka_broker: Broker,
    kafka_topics: Topics,
    standins: StandIns,
) -> None:
    files = cohort_on_collection(tmp_path / "work", standins)
    engines.env["VATTI_KAFKA_SEND_CREATED"] = "1"
    with hold_socket() as (path, server):
        held, _ = engines.spawn("vatti.testing.kafka_engine", path)
        await produce(kafka_broker.bootstrap, kafka_topics.launch, message(files), key=KEY)
        connection, _ = server.accept()  # the engine read the message and holds it
        with connection:
            assert connection.recv(len(HELD)) == HELD
            kill_group(held)
            held.wait()
    assert engines.jobs() == []  # read, not stored, not committed

    engines.engine()
    async with TopicReader(kafka_broker.bootstrap, kafka_topics.status) as statuses:
        got = await statuses.until(ended, timeout_s=180)
        assert events(got) == ["Created", "Deployed", "Succeeded"], [r.value for r in got]
        assert await statuses.quiet() == []
    assert engines.jobs() == [(RUN, "succeeded")]


@pytest.mark.postgres
async def test_two_engines_share_the_topic_and_make_each_job_once(
    engines: Engines, kafka_broker: Broker, kafka_topics: Topics, postgres_database_url: str
) -> None:
    engines.env.update(VATTI_DATABASE_URL=postgres_database_url, VATTI_SECRET_KEY=new_key())
    engines.engine()
    engines.engine()
    runs = [f"INTP0000010{n}" for n in range(6)]
    # files the collection does not have: each job fails at staging, with its Failed status
    files = [{"filename": f"cohort.{s}.c4gh", "size": 10} for s in ("pgen", "psam", "pvar")]
    async with TopicReader(kafka_broker.bootstrap, kafka_topics.status) as statuses:
        for run in runs:  # each keyed by its run: spread over the partitions
            await produce(
                kafka_broker.bootstrap, kafka_topics.launch, message(files, run), key=run.encode()
            )
        got = await statuses.until(
            lambda r: (
                {m.json()["run_name"] for m in r if m.json()["event"] == "Failed"} >= set(runs)
            ),
            timeout_s=180,
        )
    assert sorted(engines.jobs()) == [(run, "failed") for run in runs]
    for run in runs:
        assert [m.json()["event"] for m in got if m.json()["run_name"] == run][-1] == "Failed"
