"""The PGS Catalog Calculator's chain, as pgsc_calc runs it, in a side virtual environment.

Steps (each its own process, measured): ``pgscatalog-format`` -> ``pgscatalog-match
--only_match`` -> ``pgscatalog-matchmerge --combined`` -> ``plink2 --score`` per scoring file
it writes -> ``pgscatalog-aggregate``. The PyPI packages come from ``pgscatalog-utils``
(:data:`PGSC_UTILS`), in a side environment cached by its requirements.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import _bench_proc
from _bench_proc import Run, measure

from vatti.testing.side_envs import ensure_side_env

PGSC_UTILS = "pgscatalog-utils==2.0.4"
TOOLS = ("pgscatalog-format", "pgscatalog-match", "pgscatalog-matchmerge", "pgscatalog-aggregate")
#: pgsc_calc mean-imputes (plink2's default) from this many samples up.
MIN_SAMPLES_FOR_MEAN_IMPUTATION = 50


def ensure_env(workdir: Path) -> Path:
    """The side environment's ``bin`` directory (cached by its requirements, see
    vatti.testing.side_envs; ``workdir`` is not used for it)."""
    del workdir
    print(f"side environment: {PGSC_UTILS}", flush=True)
    return ensure_side_env("pgsc-chain", [PGSC_UTILS])


def score_columns(n_cols: int) -> str:
    """plink2 ``--score-col-nums`` for weights in columns 3 to ``n_cols`` (one: just "3")."""
    return "3" if n_cols <= 3 else f"3-{n_cols}"


def plink2_score_args(scorefile: Path, n_samples: int, threads: int) -> list[str]:
    """pgsc_calc's plink2 ``--score`` options for one of matchmerge's scoring files."""
    with gzip.open(scorefile, "rt") if scorefile.suffix == ".gz" else open(scorefile) as f:
        n_cols = len(f.readline().rstrip("\n").split("\t"))
    mods = ["header-read", "cols=+scoresums,+denom,-fid", "list-variants"]
    if n_samples < MIN_SAMPLES_FOR_MEAN_IMPUTATION:
        mods.append("no-mean-imputation")
    return [
        "--threads",
        str(threads),
        "--score",
        str(scorefile),
        *mods,
        "--score-col-nums",
        score_columns(n_cols),
    ]


def run_chain(
    bin_dir: Path,
    *,
    scorefiles: list[Path],
    pfile: Path,
    n_samples: int,
    build: str,
    out: Path,
    plink2: str = "plink2",
    threads: int = 1,
    dataset: str = "bench",
    min_overlap: float = 0.75,
) -> tuple[list[Run], Path]:
    """Run every step under ``out``; return the measured steps and ``aggregated_scores.txt.gz``."""
    if out.exists():
        shutil.rmtree(out)
    dirs = {name: out / name for name in ("formatted", "matches", "merged", "scored", "agg")}
    for path in dirs.values():
        path.mkdir(parents=True)
    logs = out / "logs"
    base = _bench_proc.BASE_ENV if _bench_proc.BASE_ENV is not None else os.environ
    env = {**base, "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}"}
    py_threads = str(max(1, threads))
    steps: list[Run] = []

    def step(name: str, argv: list[str | Path]) -> None:
        steps.append(measure(name, argv, log=logs / f"{name}.log", cwd=out, env=env))

    step(
        "pgscatalog-format",
        [bin_dir / "pgscatalog-format", "-s", *scorefiles, "-t", build, "-o", dirs["formatted"],
         "-l", "log_scorefiles.json", "--threads", py_threads],
    )  # fmt: skip
    normalised = sorted(dirs["formatted"].glob("normalised_*"))
    step(
        "pgscatalog-match",
        [bin_dir / "pgscatalog-match", "-d", dataset, "-s", *normalised,
         "-t", f"{pfile}.pvar", "--only_match", "--outdir", dirs["matches"]],
    )  # fmt: skip
    step(
        "pgscatalog-matchmerge",
        [bin_dir / "pgscatalog-matchmerge", "-d", dataset, "-s", *normalised,
         "-m", *sorted(dirs["matches"].glob("*.ipc.zst")), "--min_overlap", str(min_overlap),
         "--outdir", dirs["merged"], "--combined"],
    )  # fmt: skip
    for scorefile in sorted(dirs["merged"].glob("*.scorefile.gz")):
        stem = scorefile.name.removesuffix(".scorefile.gz")
        step(
            f"plink2 --score {stem}",
            [plink2, "--pfile", pfile, *plink2_score_args(scorefile, n_samples, threads),
             "--out", dirs["scored"] / stem],
        )  # fmt: skip
    step(
        "pgscatalog-aggregate",
        [bin_dir / "pgscatalog-aggregate", "-s", *sorted(dirs["scored"].glob("*.sscore")),
         "-o", dirs["agg"], "--no-split"],
    )  # fmt: skip
    return steps, dirs["agg"] / "aggregated_scores.txt.gz"
