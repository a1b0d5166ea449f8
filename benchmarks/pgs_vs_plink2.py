"""Polygenic scoring speed and memory: vatti against plink2 and the PGS Catalog Calculator chain.

On a reproducible synthetic cohort (default 2,000 samples x 200,000 variants, 1% missing calls, in
PLINK 2 and VCF.gz forms) with a 100,000-variant score (ambiguous, strand-flipped, swapped and
absent variants) plus a 10-score set, one run prints wall time and peak memory of:

* ours: ``vatti pgs score`` (scoring files to aggregated scores and reports), on the .pgen and on
  the .vcf.gz; and our scoring pass alone, in a child process that scores the matched variants
  (known from the synthetic truth) with ``score_samplesets``;
* (a) ``plink2 --score`` on the already-matched variants;
* (b) the PGS Catalog Calculator chain: pgscatalog-format, -match, -matchmerge, plink2 --score,
  pgscatalog-aggregate (PyPI packages, in a side environment cached by its requirements);
* (c) plink2's VCF import (``--make-pgen``) followed by the same ``--score``;

as ratios, the agreement of the sums, and PASS/FAIL lines for the targets. Inputs are made once
per parameter set under ``--workdir`` (default ``./bench-data/pgs``).

    .venv/bin/python benchmarks/pgs_vs_plink2.py [--quick | --large [--all] | --one-score]
        [--repeat N] [--workdir DIR]

``--one-score`` is 5,000 samples x 200,000 variants with one 100,000-variant score. Ours and
(a) run ``--repeat`` times (default 3) one after the other, so both sides see the same load;
the ratios the issue names (scoring pass / (a), whole run / (a), whole run / (b)) are printed
as the median of the repetitions' ratios, with our peak memory.
"""

# ruff: noqa: E402  (the environment is copied before polars loads, see CHILD_ENV)
from __future__ import annotations

import os

#: The environment every measured program runs in: this script's, as it started. Polars sets
#: its allocator's variable (_RJEM_MALLOC_CONF) when it loads unless set; children inheriting
#: that would run with this script's polars settings instead of their own.
CHILD_ENV = dict(os.environ)

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_proc
import _pgsc_chain
from _bench_data import BenchData, BenchSpec, ensure
from _bench_proc import CommandFailed, Run, measure

SIZES = {
    "quick": BenchSpec(200, 5_000, 2_500, 10, 500),
    "default": BenchSpec(),
    "large": BenchSpec(10_000, 1_000_000, 500_000, 10, 100_000),
    # issue 9's second case: 5,000 samples x 200,000 variants, one score
    "one-score": BenchSpec(5_000, 200_000, 100_000, 0, 0),
}
CHAIN_SHARE = 0.1  # our whole run at most this share of the chain's wall time
PLINK2_SHARE = 2.0  # our whole run at most this many times plink2 --score alone
VCF_MEMORY_SHARE = 0.25  # ours at most this share of plink2 VCF import + score peak memory
LARGE_PEAK_MB = 500.0


# -- the in-process scoring pass (run as a child of this script) ---------------------------


def worker(fmt: str, root: Path, out: Path) -> None:
    """Score the matched variants of ``root`` on its ``fmt`` target; print the phase times."""
    from vatti.pipelines.pgs.streaming import score_samplesets
    from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset, read_variants

    start = time.perf_counter()
    path = root / ("cohort.vcf.gz" if fmt == "vcf" else "cohort")
    sampleset = Sampleset("bench", [GenotypeFile.from_prefix(fmt, path)])  # type: ignore[arg-type]
    n_variants = read_variants(sampleset).height
    listed = time.perf_counter()
    matched = pl.read_parquet(root / "matched.parquet")
    scores = score_samplesets([sampleset], matched)
    done = time.perf_counter()
    scores.select("IID", "PGS", "SUM").write_parquet(out)
    phases = {"variants_s": listed - start, "scoring_s": done - listed, "n_variants": n_variants}
    print(json.dumps(phases))


# -- contenders ---------------------------------------------------------------------------


def vatti_cli() -> Path | None:
    """Our ``vatti`` command when it has ``pgs score``."""
    exe = Path(sys.executable).parent / "vatti"
    if not exe.exists():
        return None
    probe = subprocess.run(
        [str(exe), "pgs", "score", "--help"], capture_output=True, timeout=120, check=False
    )
    return exe if probe.returncode == 0 else None


def run_ours_cli(exe: Path, data: BenchData, fmt: str, out: Path) -> tuple[Run, float | None]:
    """Our whole run; returns it and the scoring pass time from ``timings.json`` if written."""
    if out.exists():
        shutil.rmtree(out)
    target = data.vcf if fmt == "vcf" else data.pfile
    scores = [arg for path in data.scorefiles for arg in ("--scores", str(path))]
    run = measure(
        f"ours: vatti pgs score ({fmt})",
        [exe, "pgs", "score", *scores, "--target", target, "--build", data.spec.genome_build,
         "--offline", "--out", out],
        log=out.parent / f"ours_cli_{fmt}.log",
    )  # fmt: skip
    timings = out / "timings.json"
    scoring = None
    if timings.exists():
        phases = json.loads(timings.read_text())
        scoring = phases.get("scoring_s", phases.get("scoring"))
        print(f"{run.name} phases (timings.json): {json.dumps(phases)}", flush=True)
    return run, scoring


def run_ours_pass(data: BenchData, fmt: str, run_dir: Path) -> tuple[Run, dict[str, float], Path]:
    out = run_dir / f"ours_pass_{fmt}.parquet"
    log = run_dir / f"ours_pass_{fmt}.log"
    run = measure(
        f"ours: scoring pass ({fmt}, child process)",
        [sys.executable, __file__, "--worker", fmt, "--data", data.root, "--out", out],
        log=log,
    )
    phases = json.loads(log.read_text().strip().splitlines()[-1])
    return run, phases, out


def plink2_score_argv(
    plink2: str, data: BenchData, source: list[str | Path], out: Path
) -> list[str | Path]:
    n_cols = len(data.score_ids) + 2
    mods = ["header-read", "cols=+scoresums,+denom,-fid", "list-variants"]
    if data.spec.n_samples < _pgsc_chain.MIN_SAMPLES_FOR_MEAN_IMPUTATION:
        mods.append("no-mean-imputation")
    return [plink2, "--threads", str(threads()), *source, "--score", data.plink2_scores, *mods,
            "--score-col-nums", _pgsc_chain.score_columns(n_cols), "--out", out]  # fmt: skip


def threads() -> int:
    return os.cpu_count() or 1


# -- reading sums -------------------------------------------------------------------------


def sums_plink2(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, separator="\t").rename({"#IID": "IID"})
    sums = [c for c in frame.columns if c.endswith("_SUM")]
    return (
        frame.select("IID", *sums)
        .unpivot(index="IID", variable_name="PGS", value_name="SUM")
        .with_columns(pl.col("PGS").str.strip_suffix("_SUM"))
    )


def sums_aggregated(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, separator="\t").select("IID", "PGS", pl.col("SUM").cast(pl.Float64))


def find_aggregated(out: Path) -> Path | None:
    found = sorted(out.rglob("aggregated_scores*.txt.gz"))
    return found[0] if found else None


def max_rel_diff(a: pl.DataFrame, b: pl.DataFrame) -> tuple[float, int]:
    """Largest relative difference of SUM over the (IID, PGS) pairs both have, and their count."""
    joined = a.join(b, on=["IID", "PGS"], suffix="_b")
    x, y = joined["SUM"].to_numpy(), joined["SUM_b"].to_numpy()
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), 1e-9)
    rel = np.abs(x - y) / scale
    return (float(rel.max()) if rel.size else float("nan")), joined.height


# -- report -------------------------------------------------------------------------------


def median_run(runs: list[Run]) -> Run:
    """The median wall time and peak memory of repeated runs of one contender."""
    name = runs[0].name if len(runs) == 1 else f"{runs[0].name} [median of {len(runs)}]"
    return Run(
        name,
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.peak_mb for r in runs),
        runs[-1].log,
    )


def fmt_row(run: Run, ref: Run | None) -> str:
    ratio = ""
    if ref is not None and ref is not run:
        wall = run.wall_s / max(ref.wall_s, 1e-9)
        memory = run.peak_mb / max(ref.peak_mb, 1e-9)
        ratio = f"{wall:9.2f}x {memory:9.2f}x  vs {ref.name}"
    return f"{run.name:<48} {run.wall_s:9.2f} {run.peak_mb:9.0f}  {ratio}"


def verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "SKIP"}[ok]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="200 x 5,000 smoke run")
    size.add_argument("--large", action="store_true", help="10,000 x 1,000,000, 500k score")
    size.add_argument("--one-score", action="store_true", help="5,000 x 200,000, one score")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours and (a) (median)")
    parser.add_argument("--all", action="store_true", help="with --large: also (b) and (c)")
    parser.add_argument("--workdir", type=Path, default=Path("bench-data/pgs"))
    parser.add_argument("--plink2", default=os.environ.get("VATTI_PLINK2", "plink2"))
    parser.add_argument("--no-chain", action="store_true", help="skip (b)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--worker", choices=["pfile", "vcf"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _bench_proc.BASE_ENV = CHILD_ENV
    if args.worker:
        worker(args.worker, args.data, args.out)
        return 0

    mode = (
        "quick"
        if args.quick
        else "large"
        if args.large
        else "one-score"
        if args.one_score
        else "default"
    )
    spec = SIZES[mode]
    full = mode != "large" or args.all
    workdir = args.workdir.resolve()
    if shutil.which(args.plink2) is None:
        raise SystemExit(f"{args.plink2} not found (bash scripts/install-plink2.sh)")
    data = ensure(spec, workdir, vcf=full)
    run_dir = workdir / "runs" / spec.key
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)

    print(
        f"# {mode}: {spec.n_samples} samples x {spec.n_variants} variants, "
        f"{spec.missing_rate:.0%} missing; scores: 1 x {spec.score_variants} + "
        f"{spec.set_scores} x {spec.set_variants} variants ({data.n_matched()} matched rows)\n"
        f"# {platform.machine()}, {threads()} cores; plink2 --threads {threads()}; "
        f"memory: {_bench_proc.METHOD}\n# data {data.root}\n",
        flush=True,
    )
    rows: list[tuple[Run, Run | None]] = []
    sums: dict[str, pl.DataFrame] = {}
    notes: list[str] = []

    exe = vatti_cli()
    ours_pfile = ours_vcf = None
    cli_scoring: float | None = None
    reps: list[dict[str, float]] = []  # per repetition: the times, same load each side
    whole_runs: list[Run] = []
    pass_runs: list[Run] = []
    plink_runs: list[Run] = []
    scorings: list[float] = []
    if exe is None:
        notes.append("ours (whole run): `vatti pgs score` is not available yet; skipped")
    for rep in range(max(1, args.repeat)):
        rep_times: dict[str, float] = {}
        if exe is not None:
            run, cli_scoring = run_ours_cli(exe, data, "pfile", run_dir / "ours_pfile")
            whole_runs.append(run)
            rep_times["whole"] = run.wall_s
            if cli_scoring is not None:
                rep_times["scoring"] = cli_scoring
        run, phases_pfile, out = run_ours_pass(data, "pfile", run_dir)
        pass_runs.append(run)
        rep_times.setdefault("scoring", phases_pfile["scoring_s"])
        scorings.append(rep_times["scoring"])
        run = measure(
            "(a) plink2 --score, matched variants",
            plink2_score_argv(args.plink2, data, ["--pfile", data.pfile], run_dir / "a"),
            log=run_dir / "a.stdout",
        )
        plink_runs.append(run)
        rep_times["plink2"] = run.wall_s
        reps.append(rep_times)
        print(f"repetition {rep + 1}: " + json.dumps(rep_times), flush=True)
    if whole_runs:
        ours_pfile = median_run(whole_runs)
        rows.append((ours_pfile, None))
        agg = find_aggregated(run_dir / "ours_pfile")
        if agg is not None:
            sums["ours (pfile)"] = sums_aggregated(agg)
    if full and exe is not None:
        ours_vcf, _ = run_ours_cli(exe, data, "vcf", run_dir / "ours_vcf")
        rows.append((ours_vcf, None))
    pass_pfile = median_run(pass_runs)
    sums["ours pass (pfile)"] = pl.read_parquet(out)
    rows.append((pass_pfile, None))
    pass_vcf = None
    if full:
        pass_vcf, _, out = run_ours_pass(data, "vcf", run_dir)
        sums["ours pass (vcf)"] = pl.read_parquet(out)
        rows.append((pass_vcf, None))
    ref_pfile = ours_pfile or pass_pfile
    ref_vcf = ours_vcf or pass_vcf

    plink_a = median_run(plink_runs)
    sums["(a) plink2"] = sums_plink2(run_dir / "a.sscore")
    rows.append((plink_a, ref_pfile))

    chain = None
    if full and not args.no_chain:
        bin_dir = _pgsc_chain.ensure_env(workdir)
        steps, agg = _pgsc_chain.run_chain(
            bin_dir,
            scorefiles=data.scorefiles,
            pfile=data.pfile,
            n_samples=spec.n_samples,
            build=spec.genome_build,
            out=run_dir / "chain",
            plink2=args.plink2,
            threads=threads(),
        )
        chain = Run.chain("(b) PGS Catalog chain (sum of steps)", steps)
        rows.append((chain, ref_pfile))
        rows.extend((step, None) for step in steps)
        sums["(b) chain"] = sums_aggregated(agg)

    plink_c = None
    if full:
        imported = run_dir / "c_import"
        steps_c = [
            measure(
                "plink2 --vcf --make-pgen",
                [
                    args.plink2,
                    "--threads",
                    str(threads()),
                    "--vcf",
                    data.vcf,
                    "--make-pgen",
                    "--out",
                    imported,
                ],
                log=run_dir / "c_import.stdout",
            ),
            measure(
                "plink2 --score (imported)",
                plink2_score_argv(args.plink2, data, ["--pfile", imported], run_dir / "c"),
                log=run_dir / "c.stdout",
            ),
        ]
        plink_c = Run.chain("(c) plink2 VCF import + --score", steps_c)
        rows.append((plink_c, ref_vcf))
        rows.extend((step, None) for step in steps_c)
        sums["(c) plink2 vcf"] = sums_plink2(run_dir / "c.sscore")

    print(f"{'contender':<48} {'wall s':>9} {'peak MB':>9}  {'wall/ours':>10} {'mem/ours':>10}")
    for run, ref in rows:
        print(fmt_row(run, ref))
    print(
        f"\nour scoring pass (in-process, {data.n_matched()} matched rows): "
        f"pfile {phases_pfile['scoring_s']:.2f} s after listing variants "
        f"({phases_pfile['variants_s']:.2f} s)"
    )

    reference_name = "(b) chain" if "(b) chain" in sums else "(a) plink2"
    print(f"\nagreement of SUM against {reference_name}:")
    for name, frame in sums.items():
        if name == reference_name:
            continue
        rel, n = max_rel_diff(frame, sums[reference_name])
        print(f"  {name:<22} max rel diff {rel:.2e} over {n} sample x score pairs")
    if ours_pfile is not None and "ours (pfile)" not in sums:
        notes.append("ours (whole run): no aggregated_scores*.txt.gz found in its --out")

    checks: list[tuple[str, bool | None, str]] = []
    n_reps = len(reps)
    source = "timings.json" if cli_scoring is not None else "in-process pass"
    pass_ratio = statistics.median(r["scoring"] / r["plink2"] for r in reps)
    checks.append(
        (
            "(a) our scoring pass no slower than plink2 --score",
            pass_ratio <= 1.0,
            f"{pass_ratio:.2f}x ({source}; median {statistics.median(scorings):.2f} s vs "
            f"{plink_a.wall_s:.2f} s)",
        )
    )
    if ours_pfile is not None:
        whole_ratio = statistics.median(r["whole"] / r["plink2"] for r in reps)
        checks.append(
            (
                f"(a) our whole run <= {PLINK2_SHARE:g} x plink2 --score alone",
                whole_ratio <= PLINK2_SHARE,
                f"{whole_ratio:.2f}x ({ours_pfile.wall_s:.2f} s vs {plink_a.wall_s:.2f} s)",
            )
        )
    if chain is not None:
        ok = None if ours_pfile is None else ours_pfile.wall_s <= CHAIN_SHARE * chain.wall_s
        got = "n/a" if ours_pfile is None else f"{ours_pfile.wall_s / chain.wall_s:.3f}x"
        checks.append(
            (
                f"(b) our whole run <= {CHAIN_SHARE:g} x the chain",
                ok,
                f"{got} (chain {chain.wall_s:.2f} s, once)",
            )
        )
    print(
        f"\nmedians of {n_reps} repetition(s); our peak memory (whole run, pfile): "
        f"{ref_pfile.peak_mb:.0f} MB; (a) plink2: {plink_a.peak_mb:.0f} MB"
    )
    if plink_c is not None and ref_vcf is not None:
        ok = (
            ref_vcf.wall_s < plink_c.wall_s
            and ref_vcf.peak_mb <= VCF_MEMORY_SHARE * plink_c.peak_mb
        )
        checks.append(
            (
                f"(c) ours on VCF.gz faster, <= {VCF_MEMORY_SHARE} x peak memory",
                ok,
                f"{ref_vcf.name}: {ref_vcf.wall_s:.2f} s, {ref_vcf.peak_mb:.0f} MB vs "
                f"{plink_c.wall_s:.2f} s, {plink_c.peak_mb:.0f} MB",
            )
        )
    if mode == "large":
        checks.append(
            (
                f"(large) our peak memory < {LARGE_PEAK_MB:.0f} MB",
                ref_pfile.peak_mb < LARGE_PEAK_MB,
                f"{ref_pfile.name}: {ref_pfile.peak_mb:.0f} MB",
            )
        )
    print("\ntargets:")
    for name, ok, detail in checks:
        print(f"  {verdict(ok)}  {name}: {detail}")
    for note in notes:
        print(f"note: {note}")

    results = {
        "mode": mode,
        "spec": asdict(spec),
        "runs": [asdict(r) | {"log": str(r.log) if r.log else None} for r, _ in rows],
        "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in checks],
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nlogs and results.json in {run_dir}")
    return 1 if args.strict and any(ok is False for _, ok, _ in checks) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CommandFailed as failure:
        sys.exit(str(failure))
