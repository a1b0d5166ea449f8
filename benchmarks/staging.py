"""Staging crypt4gh inputs (fetch + decrypt into a job's scratch) against the ``crypt4gh`` CLI.

Prints, in one run, throughput (MiB/s of cipher text) and peak memory of:

- vatti staging a 1 GiB crypt4gh file from a local source (``VATTI_INPUT_ROOT``) vs
  ``crypt4gh decrypt --sk KEY < file.c4gh > file`` on the same file;
- vatti staging a 256 MiB crypt4gh object from a loopback S3 server (moto's, one streaming GET)
  vs downloading it plainly (boto3, one GET) and then ``crypt4gh decrypt`` on the download.

Ratios are vatti's throughput over the command line's (targets: >= 0.9x, peak < 200 MB). The
data is generated in a temporary directory and deleted afterwards. Usage::

    .venv/bin/python benchmarks/staging.py [--local-mib 1024] [--s3-mib 256]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_proc import METHOD, Run, measure

BIN = Path(sys.executable).parent
PASSPHRASE = "bench-passphrase"
TARGET_RATIO, TARGET_PEAK_MB = 0.9, 200.0


def stage_main(argv: list[str]) -> int:
    """The measured vatti side: stage one input the way a job's runtime does."""
    from pydantic import SecretStr

    from vatti.domain.inputs import DeclaredInput
    from vatti.staging.secret_keys import Crypt4ghKeyFormat, KeyFile
    from vatti.staging.sources import Sources, stage_inputs

    location, root, key, scratch = argv
    buckets = None
    if location.startswith("s3://"):
        from vatti.config import StoreSettings

        buckets = StoreSettings.from_environment()
    keys = KeyFile(Path(key), Crypt4ghKeyFormat(SecretStr(PASSPHRASE)))
    sources = Sources(input_root=Path(root), keys=keys, buckets=buckets)
    try:
        stage_inputs([DeclaredInput("input", location)], Path(scratch), sources)
    finally:
        sources.close()
    return 0


def write_keys(secret: Path, public: Path) -> None:
    """A key pair as ``crypt4gh-keygen`` writes it (the secret key locked with PASSPHRASE)."""
    import base64

    from vatti.domain.recipients import BEGIN, END
    from vatti.testing.c4gh import new_keypair

    pair = new_keypair()
    secret.write_text(pair.locked(PASSPHRASE))
    public.write_text(f"{BEGIN}\n{base64.b64encode(pair.public).decode()}\n{END}\n")


def write_random(path: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as out:
        for index in range(mib):
            # vary each MiB cheaply so no two segments are alike
            out.write(index.to_bytes(8, "little") + block[8:])


def ratio_line(what: str, mib: int, ours: Run, peer: Run) -> str:
    ours_rate, peer_rate = mib / ours.wall_s, mib / peer.wall_s
    ratio = ours_rate / peer_rate
    verdict = "ok" if ratio >= TARGET_RATIO and ours.peak_mb < TARGET_PEAK_MB else "MISSED"
    ours_cpu, peer_cpu = CPU[id(ours)], CPU[id(peer)]
    return (
        f"{what:<22} vatti {ours_rate:6.1f} MiB/s ({ours.wall_s:5.2f} s, cpu {ours_cpu:5.2f} s, "
        f"peak {ours.peak_mb:5.1f} MB) | CLI {peer_rate:6.1f} MiB/s ({peer.wall_s:5.2f} s, "
        f"cpu {peer_cpu:5.2f} s, peak {peer.peak_mb:5.1f} MB) | throughput ratio {ratio:4.2f}x, "
        f"cpu ratio {peer_cpu / ours_cpu:4.2f}x  [{verdict}]"
    )


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.wall_s)


def children_cpu_s() -> float:
    """CPU time (user + system) of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: CPU seconds of each measured run, by the run's identity (see ``timed``)
CPU: dict[int, float] = {}


def timed(run: Callable[[], Run]) -> Run:
    """``run()``, its children's CPU time recorded in :data:`CPU` (a loaded machine stretches
    wall times; CPU time says what each side costs)."""
    before = children_cpu_s()
    result = run()
    CPU[id(result)] = children_cpu_s() - before
    return result


def chained(name: str, runs: list[Run]) -> Run:
    from _bench_proc import Run

    result = Run.chain(name, runs)
    CPU[id(result)] = sum(CPU[id(r)] for r in runs)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local-mib", type=int, default=1024)
    parser.add_argument("--s3-mib", type=int, default=256)
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each side (the best is kept)"
    )
    args = parser.parse_args()

    from vatti.testing.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, start_s3_server

    work = Path(tempfile.mkdtemp(prefix="vatti-bench-staging-"))
    logs, key, pub = work / "logs", work / "bench.sec", work / "bench.pub"
    cli = f"C4GH_PASSPHRASE={PASSPHRASE} {BIN / 'crypt4gh'} decrypt --sk {key}"
    server = None
    lines = []

    def sealed_file(name: str, mib: int) -> Path:
        plain, sealed = work / name, work / f"{name}.c4gh"
        write_random(plain, mib)
        encrypt = f"{BIN / 'crypt4gh'} encrypt --recipient_pk {pub} < {plain} > {sealed}"
        measure("encrypt", ["sh", "-c", encrypt], log=logs / "encrypt.log")
        plain.unlink()
        return sealed

    def vatti(location: str, env: dict[str, str] | None = None) -> Run:
        scratch = work / "scratch"
        argv = [sys.executable, __file__, "--stage", location, str(work), str(key), str(scratch)]
        try:
            return timed(lambda: measure("vatti", argv, log=logs / "vatti.log", env=env))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def decrypt(source: Path) -> Run:
        out = work / "cli.out"
        try:
            command = ["sh", "-c", f"{cli} < {source} > {out}"]
            return timed(lambda: measure("cli", command, log=logs / "cli.log"))
        finally:
            out.unlink(missing_ok=True)

    try:
        write_keys(key, pub)
        sealed = sealed_file("local.bin", args.local_mib)
        ours, peer = [], []
        for _ in range(args.repeat):
            peer.append(decrypt(sealed))
            ours.append(vatti(sealed.name))
        lines.append(
            ratio_line(f"local {args.local_mib} MiB", args.local_mib, best(ours), best(peer))
        )
        sealed.unlink()

        server = start_s3_server()
        server.create_bucket("bench")
        sealed = sealed_file("s3.bin", args.s3_mib)
        server.client.upload_file(str(sealed), "bench", sealed.name)
        sealed.unlink()
        download = work / "download.c4gh"
        fetch = (  # one streaming GET, as vatti does (moto is slow at ranged reads)
            "import boto3, shutil, sys; c = boto3.session.Session().client('s3', "
            f"endpoint_url={server.endpoint!r}, region_name={REGION!r}, "
            f"aws_access_key_id={ACCESS_KEY_ID!r}, aws_secret_access_key={SECRET_ACCESS_KEY!r}); "
            f"shutil.copyfileobj(c.get_object(Bucket='bench', Key='s3.bin.c4gh')['Body'], "
            f"open({str(download)!r}, 'wb'), 1 << 20)"
        )
        env = {**os.environ, **server.env()}
        ours, peer = [], []
        argv = [sys.executable, "-c", fetch]
        for _ in range(args.repeat):
            fetched = timed(lambda: measure("download", argv, log=logs / "fetch.log"))
            peer.append(chained("download + cli", [fetched, decrypt(download)]))
            download.unlink()
            ours.append(vatti("s3://bench/s3.bin.c4gh", env))
        lines.append(
            ratio_line(f"loopback S3 {args.s3_mib} MiB", args.s3_mib, best(ours), best(peer))
        )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"staging benchmark ({when}, {os.cpu_count()} CPUs, best of {args.repeat} runs each;")
    print(f"  throughput of the cipher text; peak memory: {METHOD})")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--stage":
        sys.exit(stage_main(sys.argv[2:]))
    sys.exit(main())
