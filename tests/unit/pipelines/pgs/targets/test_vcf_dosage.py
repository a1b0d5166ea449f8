"""VCF ``DS`` per call, as ``plink2 --vcf dosage=DS`` imports it (checked by hand with plink2
2.00a3.5 ``--export A``): DS when present, else the GT hard call, else missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vatti.pipelines.pgs.targets import GenotypeFile, open_reader

pytestmark = pytest.mark.unit

VCF = (
    "##fileformat=VCFv4.2\n##contig=<ID=22>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\tc\td\te\n"
    "22\t100\tx\tA\tC\t.\t.\t.\tGT:DS\t1/1:.\t0/0:.\t0/1:0.25\t./.:1.5\t./.:.\n"
)


@pytest.mark.parametrize(
    ("allele", "expected"), [(1, [2.0, 0.0, 0.25, 1.5]), (0, [0, 2, 1.75, 0.5])]
)
def test_ds_then_gt_then_missing(tmp_path: Path, allele: int, expected: list[float]) -> None:
    (tmp_path / "t.vcf").write_text(VCF)
    file = GenotypeFile.from_prefix("vcf", tmp_path / "t.vcf")
    with open_reader(file, use_dosage=True) as reader:
        reader.read_variants()
        variant = np.array([0], dtype=np.uint32)
        blocks = list(reader.dosage_blocks(variant, np.array([allele], dtype=np.uint8), 4))
    assert len(blocks) == 1
    block = blocks[0]
    assert block.missing.tolist() == [4]
    assert block.values[0, :4].tolist() == expected
