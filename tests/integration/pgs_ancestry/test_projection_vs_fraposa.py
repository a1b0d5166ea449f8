"""The reference PCA and the projection of targets against FRAPOSA (fraposa-pgsc 1.0.2 in its
side environment) on the shared tiny1000G data (968 autosomal variants): every fifth of its
3,202 samples the target (640), two in five the reference (1,281; fewer to keep FRAPOSA's
eigendecomposition of the samples' covariance short)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vatti.pipelines.pgs.ancestry.genotypes import read_genotypes
from vatti.pipelines.pgs.ancestry.projection import project, reference_pca
from vatti.pipelines.pgs.targets.base import GenotypeFile
from vatti.testing.ancestry_peers import FRAPOSA, peer_bin
from vatti.testing.services import plink2_path, shared_pgs_data

pytestmark = [pytest.mark.integration, pytest.mark.plink2]

VCF = "pygscatalog/pgscatalog.utils/packages/pgscatalog.calc/tests/data/vcf/tiny1000G.vcf.gz"
PEER_SCRIPT = Path(__file__).with_name("fraposa_peer.py")
#: deterministic steps agree within this relative difference
RELATIVE = 1e-6


def _plink2(*args: str) -> None:
    subprocess.run([plink2_path(), "--threads", "1", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ref`` and ``target`` PLINK 1 filesets of tiny1000G's autosomes."""
    out = tmp_path_factory.mktemp("tiny1000g")
    vcf = shared_pgs_data() / VCF
    _plink2("--vcf", str(vcf), "--autosome", "--set-all-var-ids", "@:#:$r:$a",
            "--make-bed", "--out", str(out / "all"))  # fmt: skip
    fam = (out / "all.fam").read_text().splitlines()
    for name, rests in (("target", {0}), ("ref", {1, 3})):
        keep = [line.split()[:2] for k, line in enumerate(fam, 1) if k % 5 in rests]
        (out / f"{name}.ids").write_text("".join(f"{f}\t{i}\n" for f, i in keep))
        _plink2("--bfile", str(out / "all"), "--keep", str(out / f"{name}.ids"),
                "--make-bed", "--out", str(out / name))  # fmt: skip
    return out


def _genotypes(prefix: Path) -> tuple[np.ndarray, np.ndarray]:
    file = GenotypeFile.from_prefix("bfile", prefix)
    n = len(Path(f"{prefix}.bim").read_text().splitlines())
    found = read_genotypes(file, np.arange(n, dtype=np.uint32), np.ones(n, dtype=np.uint8))
    return found.values, found.missing


def test_reference_pcs_and_projection_match_fraposa(split: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["OPENBLAS_NUM_THREADS"] = "1"  # FRAPOSA's per-sample loop, as ours: see projection
    peer = split / "peer"
    python = peer_bin(FRAPOSA) / "python"
    subprocess.run(
        [str(python), str(PEER_SCRIPT), str(split / "ref"), str(split / "target"), str(peer)],
        check=True, capture_output=True, env=env, timeout=600, cwd=split,
    )  # fmt: skip
    their_ref, their_study = np.load(f"{peer}_ref.npy"), np.load(f"{peer}_study.npy")

    ref, ref_missing = _genotypes(split / "ref")
    study, study_missing = _genotypes(split / "target")
    pca = reference_pca(ref, ref_missing, dim_ref=10)
    ours_study = project(pca, study, study_missing)
    assert pca.pcs.shape == their_ref.shape == (1281, 10)
    assert ours_study.shape == their_study.shape == (640, 10)

    # a PC's sign is the decomposition's choice: align each on FRAPOSA's
    sign = np.sign(np.sum(pca.pcs * their_ref, axis=0))
    for ours, theirs in ((pca.pcs * sign, their_ref), (ours_study * sign, their_study)):
        relative = np.abs(ours - theirs) / np.abs(theirs)
        assert np.quantile(relative, 0.999) <= RELATIVE
        # the few values near 0 have a large relative error: bound them by their PC's spread
        assert np.max(np.abs(ours - theirs) / np.abs(theirs).max(axis=0)) <= RELATIVE

    # projected targets land where the reference samples of their population lie: the
    # study's PCs are on the reference's scale (not shrunk towards 0, FRAPOSA's point)
    ratio = ours_study[:, :4].std(axis=0) / pca.pcs[:, :4].std(axis=0)
    assert np.all((ratio > 0.8) & (ratio < 1.25))
