"""Dominant/recessive effects and multiallelic sites through :func:`calculate`, against plink2.

* Dominant/recessive: a scoring file with ``is_dominant``/``is_recessive`` columns. plink2 runs
  once per effect type (``dominant``/``recessive`` modifiers) and its sums are added, as pgsc_calc
  aggregates its split score files; DENOM is then the sum of the three runs' DENOMs, which is
  ours (the score's own variants).
* Multiallelic: a VCF written here with three-allele sites, converted by ``plink2 --vcf``. With
  ``keep_multiallelic`` false those rows are excluded; with it true they count the matched ALT
  (or REF) allele, as plink2 does when given that allele code.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vatti.pipelines.pgs import synthetic as syn
from vatti.pipelines.pgs.orchestration import CalcOptions, calculate
from vatti.pipelines.pgs.targets import GenotypeFile, Sampleset
from vatti.testing.services import plink2_path

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

RTOL = 1e-5
ATOL = 1e-9
EFFECTS = ("additive", "dominant", "recessive")


def run(*args: str) -> None:
    subprocess.run([plink2_path(), "--threads", "1", *args], check=True, capture_output=True)


def plink2_score(
    pfile: Path, rows: pl.DataFrame, out: Path, *, mean_impute: bool, effect: str = "additive"
) -> pl.DataFrame:
    """plink2 --score of ``rows`` (ID, A1, WEIGHT): IID, SUM, DENOM, ALLELE_CT per sample."""
    score = out.with_suffix(".score.tsv")
    rows.write_csv(score, separator="\t")
    modifiers = [] if effect == "additive" else [effect]
    if not mean_impute:
        modifiers.append("no-mean-imputation")
    run(
        "--pfile", str(pfile), "--score", str(score), "1", "2", "3", "header-read", *modifiers,
        "list-variants", "cols=+scoresums,+denom", "--out", str(out),
    )  # fmt: skip
    assert len(Path(f"{out}.sscore.vars").read_text().split()) == rows.height
    sscore = pl.read_csv(f"{out}.sscore", separator="\t")
    return sscore.rename({"#IID": "IID"} if "#IID" in sscore.columns else {}).select(
        pl.col("IID").cast(pl.Utf8),
        pl.col("WEIGHT_SUM").alias("SUM"),
        pl.col("DENOM").cast(pl.Int64),
        pl.col("ALLELE_CT").cast(pl.Int64),
    )


def compare(ours: pl.DataFrame, theirs: pl.DataFrame, label: str) -> None:
    assert ours["IID"].to_list() == theirs["IID"].to_list(), label
    np.testing.assert_allclose(ours["SUM"], theirs["SUM"], rtol=RTOL, atol=ATOL, err_msg=label)
    assert ours["DENOM"].to_list() == theirs["DENOM"].to_list(), label
    assert ours["ALLELE_CT"].to_list() == theirs["ALLELE_CT"].to_list(), label


# -- dominant / recessive ----------------------------------------------------------------------


def write_domrec_scorefile(path: Path, rows: syn.ScoreRows, effect: np.ndarray) -> None:
    text = syn.scorefile_text(rows)
    lines = text.splitlines(keepends=True)
    header = "".join(line for line in lines if line.startswith("#"))
    body = pl.DataFrame(
        {
            "chr_name": [rows.chrom] * rows.pos.size,
            "chr_position": rows.pos,
            "effect_allele": rows.effect,
            "other_allele": rows.other,
            "effect_weight": rows.weight,
            "is_dominant": np.where(effect == "dominant", "TRUE", "FALSE"),
            "is_recessive": np.where(effect == "recessive", "TRUE", "FALSE"),
        }
    ).write_csv(separator="\t")
    path.write_text(header + body)


@pytest.mark.parametrize("n_samples", [90, 25], ids=["mean-imp", "no-mean-imp"])
def test_dominant_and_recessive_agree_with_plink2(tmp_path: Path, n_samples: int) -> None:
    spec = syn.CohortSpec(n_samples=n_samples, n_variants=800, seed=77, missing_rate=0.03)
    variants = syn.write_pfile(tmp_path / "cohort", spec)
    rows = syn.make_score(variants, syn.ScoreSpec(400, pgs_id="PGS999930", seed=31))
    effect = np.random.default_rng(3).choice(np.array(EFFECTS), size=rows.pos.size)
    # the mixed score, and its rows of each effect type as scores of their own
    files = [tmp_path / "mixed.txt"]
    write_domrec_scorefile(files[0], rows, effect)
    for k, kind in enumerate(EFFECTS):
        pick = effect == kind
        sub = syn.ScoreRows(
            f"PGS99993{k + 1}", rows.genome_build, rows.chrom, rows.pos[pick], rows.effect[pick],
            rows.other[pick], rows.weight[pick], rows.target_idx[pick], rows.effect_is_ref[pick],
            rows.flipped[pick], rows.ambiguous[pick],
        )  # fmt: skip
        files.append(tmp_path / f"{kind}.txt")
        write_domrec_scorefile(files[-1], sub, effect[pick])

    target = Sampleset("s", [GenotypeFile.from_prefix("pfile", tmp_path / "cohort")])
    result = calculate(files, [target], CalcOptions("GRCh37"), tmp_path / "o")

    keep = rows.matchable()
    idx = np.maximum(rows.target_idx, 0)
    allele = np.where(rows.effect_is_ref, variants.ref[idx], variants.alt[idx])
    ids = np.array(variants.ids())[idx]
    parts = []
    for k, kind in enumerate(EFFECTS):
        pick = keep & (effect == kind)
        assert pick.sum() > 30
        truth = pl.DataFrame({"ID": ids[pick], "A1": allele[pick], "WEIGHT": rows.weight[pick]})
        theirs = plink2_score(
            tmp_path / "cohort", truth, tmp_path / kind, mean_impute=n_samples >= 50, effect=kind
        )
        compare(result.scores.filter(pl.col("PGS") == f"PGS99993{k + 1}"), theirs, kind)
        parts.append(theirs)
    # The mixed score is the sum of the three plink2 runs. Each printed part is rounded to 6
    # significant digits, so the bound on the total is 1e-5 of the summed part magnitudes.
    mixed = result.scores.filter(pl.col("PGS") == "PGS999930")
    total = pl.concat(parts).group_by("IID", maintain_order=True).sum()
    bound = RTOL * sum(np.abs(p["SUM"].to_numpy()) for p in parts)
    assert mixed["IID"].to_list() == total["IID"].to_list()
    assert (np.abs(mixed["SUM"].to_numpy() - total["SUM"].to_numpy()) <= bound).all()
    assert mixed["DENOM"].to_list() == total["DENOM"].to_list()
    assert mixed["ALLELE_CT"].to_list() == total["ALLELE_CT"].to_list()
    # the effect types matter: scoring everything as additive gives other sums
    additive = plink2_score(
        tmp_path / "cohort",
        pl.DataFrame({"ID": ids[keep], "A1": allele[keep], "WEIGHT": rows.weight[keep]}),
        tmp_path / "all_additive",
        mean_impute=n_samples >= 50,
    )
    assert not np.allclose(mixed["SUM"], additive["SUM"], rtol=1e-3)


# -- multiallelic ------------------------------------------------------------------------------

#: REF, then ALTs; no REF/ALT pair is A/T or C/G, so none is ambiguous.
Site = tuple[int, str, tuple[str, ...]]

SITES: list[tuple[str, ...]] = [
    ("A", "C"),
    ("C", "T"),
    ("G", "A"),
    ("T", "G"),
    ("A", "C", "G"),
    ("C", "A", "T"),
]


def write_multiallelic_vcf(path: Path, n_samples: int, n_sites: int, seed: int) -> list[Site]:
    rng = np.random.default_rng(seed)
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=22>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(
            ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
            + [f"m{i:03d}" for i in range(n_samples)]
        ),
    ]
    sites: list[Site] = []
    for v in range(n_sites):
        alleles = SITES[v % len(SITES)]
        pos = 20_000_000 + 100 * v
        freqs = rng.dirichlet(np.ones(len(alleles)))
        calls = rng.choice(len(alleles), size=(n_samples, 2), p=freqs)
        cells = [f"{a}/{b}" for a, b in calls]
        for i in np.flatnonzero(rng.random(n_samples) < 0.04):
            cells[i] = "./."
        fixed = ["22", str(pos), f"m{v}", alleles[0], ",".join(alleles[1:]), ".", ".", ".", "GT"]
        lines.append("\t".join(fixed + cells))
        sites.append((pos, f"m{v}", alleles))
    path.write_text("\n".join(lines) + "\n")
    return sites


def multiallelic_scorefile(path: Path, sites: list[Site], seed: int) -> pl.DataFrame:
    """One row per site; the effect allele is REF, ALT1 or (multiallelic) ALT2."""
    rng = np.random.default_rng(seed)
    rows = []
    for pos, vid, alleles in sites:
        k = int(rng.integers(0, len(alleles)))
        other = alleles[1] if k == 0 else alleles[0]
        weight = round(float(rng.normal(0, 0.3)), 6)
        rows.append((pos, vid, alleles[k], other, weight, len(alleles) > 2))
    frame = pl.DataFrame(
        rows,
        schema=["pos", "ID", "effect", "other", "weight", "multi"],
        orient="row",
    )
    header = "#pgs_id=PGS999941\n#pgs_name=multi\n#trait_reported=t\n#genome_build=GRCh37\n"
    body = frame.select(
        chr_name=pl.lit("22"),
        chr_position="pos",
        effect_allele="effect",
        other_allele="other",
        effect_weight="weight",
    ).write_csv(separator="\t")
    path.write_text(header + body)
    return frame


@pytest.mark.parametrize("fmt", ["pfile", "vcf"])
@pytest.mark.parametrize("n_samples", [60, 20], ids=["mean-imp", "no-mean-imp"])
def test_multiallelic_sites(tmp_path: Path, fmt: str, n_samples: int) -> None:
    sites = write_multiallelic_vcf(tmp_path / "m.vcf", n_samples, 60, seed=n_samples)
    run("--vcf", str(tmp_path / "m.vcf"), "--make-pgen", "--out", str(tmp_path / "m"))
    frame = multiallelic_scorefile(tmp_path / "multi.txt", sites, seed=4)
    prefix = tmp_path / ("m.vcf" if fmt == "vcf" else "m")
    target = Sampleset("m", [GenotypeFile.from_prefix(fmt, prefix)])  # type: ignore[arg-type]
    mean_impute = n_samples >= 50
    truth = frame.select("ID", A1="effect", WEIGHT="weight")
    multi = frame["multi"].to_numpy()
    assert multi.sum() > 10
    assert (frame.filter("multi")["effect"] != frame.filter("multi")["other"]).all()

    # default: the multiallelic rows are excluded, the others scored
    excluded = calculate(
        [tmp_path / "multi.txt"], [target], CalcOptions("GRCh37", min_overlap=0.5), tmp_path / "a"
    )
    log = pl.read_csv(tmp_path / "a/match_log.tsv.gz", separator="\t", infer_schema_length=None)
    reasons = log.sort("row_nr")["exclusion_reason"].to_numpy()
    assert (reasons[multi] == "multiallelic").all()
    assert excluded.summary["n_matched"].item() == int((~multi).sum())
    theirs = plink2_score(
        tmp_path / "m", truth.filter(pl.Series(~multi)),
        tmp_path / "bi", mean_impute=mean_impute,
    )  # fmt: skip
    compare(excluded.scores, theirs, "multiallelic excluded")

    # keep_multiallelic: every row scored, counting the matched allele
    kept = calculate(
        [tmp_path / "multi.txt"],
        [target],
        CalcOptions("GRCh37", keep_multiallelic=True),
        tmp_path / "b",
    )
    assert kept.summary["n_matched"].item() == len(sites)
    theirs = plink2_score(tmp_path / "m", truth, tmp_path / "all", mean_impute=mean_impute)
    compare(kept.scores, theirs, "multiallelic kept")
