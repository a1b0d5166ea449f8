"""The benchmark's synthetic inputs, made once per parameter set under a work directory.

``<workdir>/data/<key>/`` holds ``cohort.pgen/.pvar/.psam``, ``cohort.vcf.gz`` (the same
genotypes), ``scores/PGS*.txt.gz`` (the main score and the score set, PGS Catalog format),
``plink2_scores.tsv`` (the matched variants as a plink2 ``--score`` file: ``ID A1 <one weight
column per score>``) and ``matched.parquet`` (the same rows in our scorer's long form). The key
names the sizes and hashes every parameter, so changed parameters get a fresh directory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

from vatti.pipelines.pgs import synthetic as syn

#: Bump when the generator changes the files it writes.
GENERATOR_VERSION = 2


@dataclass(frozen=True)
class BenchSpec:
    n_samples: int = 2000
    n_variants: int = 200_000
    score_variants: int = 100_000
    set_scores: int = 10
    set_variants: int = 20_000
    missing_rate: float = 0.01
    seed: int = 42
    genome_build: str = "GRCh38"

    def cohort(self) -> syn.CohortSpec:
        return syn.CohortSpec(
            self.n_samples, self.n_variants, seed=self.seed, missing_rate=self.missing_rate
        )

    def scores(self) -> list[syn.ScoreSpec]:
        main = syn.ScoreSpec(
            self.score_variants, seed=self.seed + 7, genome_build=self.genome_build
        )
        rest = syn.score_set_specs(
            self.set_scores,
            self.set_variants,
            seed=self.seed + 1000,
            genome_build=self.genome_build,
        )
        return [main, *rest]

    @property
    def key(self) -> str:
        blob = json.dumps([GENERATOR_VERSION, asdict(self)], sort_keys=True).encode()
        digest = hashlib.sha256(blob).hexdigest()[:10]
        return f"s{self.n_samples}_v{self.n_variants}_m{self.score_variants}_{digest}"


@dataclass(frozen=True)
class BenchData:
    root: Path
    spec: BenchSpec

    @property
    def pfile(self) -> Path:
        return self.root / "cohort"

    @property
    def vcf(self) -> Path:
        return self.root / "cohort.vcf.gz"

    @property
    def plink2_scores(self) -> Path:
        return self.root / "plink2_scores.tsv"

    @property
    def matched(self) -> Path:
        return self.root / "matched.parquet"

    @property
    def scorefiles(self) -> list[Path]:
        return [self.root / "scores" / f"{s.pgs_id}.txt.gz" for s in self.spec.scores()]

    @property
    def score_ids(self) -> list[str]:
        return [s.pgs_id for s in self.spec.scores()]

    def n_matched(self) -> int:
        return pl.scan_parquet(self.matched).select(pl.len()).collect().item()  # type: ignore[no-any-return]


def ensure(spec: BenchSpec, workdir: Path, *, vcf: bool = True, log: bool = True) -> BenchData:
    """Create the files of ``spec`` under ``workdir`` unless they are already there."""
    data = BenchData(workdir / "data" / spec.key, spec)
    data.root.mkdir(parents=True, exist_ok=True)
    (data.root / "spec.json").write_text(json.dumps(asdict(spec), indent=1))
    cohort = spec.cohort()
    if not Path(f"{data.pfile}.pgen").exists():
        _say(log, f"writing {data.pfile}.pgen ...")
        partial = data.root / "partial" / "cohort"
        syn.write_pfile(partial, cohort)
        for suffix in (".psam", ".pvar", ".pgen"):  # .pgen last: it marks completion
            Path(f"{partial}{suffix}").rename(f"{data.pfile}{suffix}")
        shutil.rmtree(partial.parent)
    if vcf and not data.vcf.exists():
        _say(log, f"writing {data.vcf} ...")
        partial_vcf = data.root / "cohort.partial.vcf.gz"
        syn.write_vcf_gz(partial_vcf, cohort)
        partial_vcf.rename(data.vcf)
    if not data.matched.exists():
        _say(log, "writing scoring files ...")
        variants = syn.make_variants(cohort)
        rows = [
            syn.write_scorefile(p, variants, s)
            for p, s in zip(data.scorefiles, spec.scores(), strict=True)
        ]
        _write_plink2_scores(data.plink2_scores, variants, rows)
        syn.matched_frame(rows).write_parquet(data.matched)
    return data


def _write_plink2_scores(path: Path, variants: syn.Variants, scores: list[syn.ScoreRows]) -> None:
    """One row per matched variant (the same effect allele in every score), a column per score."""
    keys = np.unique(np.concatenate([r.target_idx[r.matchable()] for r in scores]))
    weights = np.zeros((keys.size, len(scores)))
    allele = np.empty(keys.size, dtype=variants.ref.dtype)
    for k, rows in enumerate(scores):
        keep = rows.matchable()
        at = np.searchsorted(keys, rows.target_idx[keep])
        weights[at, k] = rows.weight[keep]
        allele[at] = np.where(
            rows.effect_is_ref[keep], variants.ref[keys[at]], variants.alt[keys[at]]
        )
    ids = variants.id_series().gather(keys)
    frame = pl.DataFrame({"ID": ids, "A1": allele}).with_columns(
        pl.Series(rows.pgs_id, weights[:, k]) for k, rows in enumerate(scores)
    )
    frame.write_csv(path, separator="\t")


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, flush=True)
