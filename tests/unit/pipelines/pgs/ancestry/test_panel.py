"""The panel's frequencies, relabelled for the target (pgsc_calc's relabelled ``--read-freq``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from vatti.pipelines.pgs.ancestry.panel import panel_freqs
from vatti.pipelines.pgs.freqs import read_afreq

pytestmark = pytest.mark.unit


def test_panel_freqs_follow_the_targets_ids_and_orientation(tmp_path: Path) -> None:
    (tmp_path / "ref.afreq").write_text(
        "#CHROM\tID\tREF\tALT\tALT_FREQS\tOBS_CT\n1\tr1\tA\tG\t0.25\t100\n1\tr2\tC\tT\t0.1\t100\n"
        "1\tr3\tG\tA\t0.4\t100\n"
    )
    shared = pl.DataFrame(
        {
            "t_id": ["t1", "t2", "."],
            "t_ref": ["A", "T", "G"],
            "t_alt": ["G", "C", "A"],
            "r_id": ["r1", "r2", "r3"],
            "r_ref": ["A", "C", "G"],
            "r_alt": ["G", "T", "A"],
        }
    )
    freqs = read_afreq(panel_freqs(tmp_path / "ref.afreq", shared, tmp_path / "out.afreq"))
    got = {(r["id"], r["ref"], r["alt"]): r["alt_freqs"][0] for r in freqs.iter_rows(named=True)}
    assert got[("r1", "A", "G")] == pytest.approx(0.25)
    assert got[("t1", "A", "G")] == pytest.approx(0.25)
    assert got[("t2", "T", "C")] == pytest.approx(0.9)  # swapped: the target's ALT is C
    assert not any(key[0] == "." for key in got)  # an ID-less target variant: its own freq
