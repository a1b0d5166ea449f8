"""A real S3 server for tests: moto's, in a process of its own on loopback, reset between tests.

Start it once per test session (:func:`start_s3_server`), :meth:`S3Server.reset` it before each
test (``POST /moto-api/reset`` empties every bucket and lifecycle configuration), and create the
buckets a test needs with :meth:`S3Server.create_bucket`. moto signs nothing itself but refuses
anonymous reads of private objects, so a job that was not handed the credentials fails.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import IO, Any

import httpx
from pydantic import SecretStr

from vatti.config import StoreSettings
from vatti.testing.services import missing

REGION = "eu-west-1"
ACCESS_KEY_ID = "AKIAVATTITESTKEY0001"
SECRET_ACCESS_KEY = "vatti-test-secret-0123456789abcdef"  # noqa: S105 (moto takes any)
_RUNNING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]
    #: reads the server's output (into ``output``) until it exits
    reader: threading.Thread
    #: the server's last lines of output (for a failure message)
    output: deque[str] = field(default_factory=lambda: deque(maxlen=50))

    def settings(self, **fields: Any) -> StoreSettings:
        """Store settings that reach this server with the test credentials."""
        values: dict[str, Any] = {
            "s3_endpoint": self.endpoint,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY_ID,
            "s3_secret_access_key": SecretStr(SECRET_ACCESS_KEY),
            **fields,
        }
        return StoreSettings(**values)

    def env(self) -> dict[str, str]:
        """The same settings as ``VATTI_*`` variables."""
        return {
            "VATTI_S3_ENDPOINT": self.endpoint,
            "VATTI_S3_REGION": REGION,
            "VATTI_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "VATTI_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }

    def reset(self) -> None:
        """Forget every bucket and object."""
        httpx.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()

    @functools.cached_property
    def client(self) -> Any:
        """A boto3 S3 client of this server (for set-up and inspection)."""
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def create_bucket(self, name: str) -> str:
        self.client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every key in ``bucket``, sorted."""
        client, token = self.client, None
        keys: list[str] = []
        while True:
            page = client.list_objects_v2(
                Bucket=bucket, **({"ContinuationToken": token} if token else {})
            )
            keys.extend(o["Key"] for o in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not token:
                return sorted(keys)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(10)
        if self.process.stderr is not None:
            self.process.stderr.close()


def _drain(
    stream: IO[bytes], output: deque[str], started: threading.Event, found: list[str]
) -> None:
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        output.append(line)
        match = _RUNNING.search(line)
        if match and not found:
            found.append(match.group(1))
            started.set()
    started.set()  # the server exited


def start_s3_server(timeout_s: float = 60.0) -> S3Server:
    """moto's server on 127.0.0.1 on a port the system picks; skip (fail in CI) without moto."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("boto3") is None:
        missing("moto's S3 server", "install the dev extra: pip install -e '.[dev]'")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    output: deque[str] = deque(maxlen=50)
    started, found = threading.Event(), list[str]()
    reader = threading.Thread(
        target=_drain, args=(process.stderr, output, started, found), daemon=True
    )
    reader.start()
    server = S3Server(found[0] if found else "", process, reader, output)
    if not started.wait(timeout_s) or not found:
        server.stop()
        raise RuntimeError("moto's S3 server did not start:\n" + "\n".join(output))
    server.endpoint = found[0]
    return server
