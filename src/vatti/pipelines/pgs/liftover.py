"""Lift scoring-file positions to the target build with a UCSC chain file the user supplies.

As pgsc_calc (``--liftover``, pgscatalog-format's ``lift``): only files that are not harmonized
and whose ``#genome_build`` differs from the target build are lifted (harmonized files carry
positions in the build they were harmonized to); a position maps through the first chain
covering it (chain files list the best chains first; ties: the higher score), to the target
chromosome without its ``chr`` prefix and anything after ``_`` (``chr22_KI270879v1_alt`` -> 22);
a position no chain covers is dropped; a file of which less than :data:`MIN_LIFT` of the rows
lift fails (pgscatalog-format's ``LiftoverError`` at its default ``min_lift`` of 0.95). Alleles
are kept as written, as pgscatalog does: a site on the other strand is found by the matcher's
strand flips.

Builds: GRCh37 <-> GRCh38, as pgsc_calc supports. The chain must fit the builds: where it names
a chromosome whose length :data:`CHROMOSOME_LENGTHS` knows, its source and target sizes must be
those of the file's and the target's build (a chain for the other direction is refused).

Parsing and mapping are pure (:func:`parse_chain`, :meth:`Chain.lift`); :func:`read_chain` reads
the file (plain or gzip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.errors import PipelineError
from vatti.pipelines.pgs.inflate import UnreadableFile, read_inflated
from vatti.pipelines.pgs.vocabulary import GenomeBuild, normalise_chrom_name

#: The smallest share of a file's rows that must lift (pgscatalog-format's default min_lift).
MIN_LIFT = 0.95
#: Lengths of a few chromosomes in each build the lift supports (GRC assembly reports), to tell
#: a chain's direction.
CHROMOSOME_LENGTHS: dict[GenomeBuild, dict[str, int]] = {
    GenomeBuild.GRCh37: {"1": 249_250_621, "22": 51_304_566, "X": 155_270_560},
    GenomeBuild.GRCh38: {"1": 248_956_422, "22": 50_818_468, "X": 156_040_895},
}
LIFT_BUILDS = tuple(CHROMOSOME_LENGTHS)


class LiftoverError(PipelineError):
    """A chain file cannot be used, or a scoring file does not lift well enough."""

    code = "pgs_liftover"
    exit_code = 65  # EX_DATAERR


@dataclass
class _Blocks:
    """The aligned blocks of one chain on its source chromosome, sorted, 0-based half-open."""

    score: float
    order: int
    target: str
    target_size: int
    reverse: bool
    source_start: npt.NDArray[np.int64]
    source_end: npt.NDArray[np.int64]
    target_start: npt.NDArray[np.int64]


@dataclass
class Chain:
    """A parsed chain file: per source chromosome, its chains, best first."""

    chains: dict[str, list[_Blocks]] = field(default_factory=dict)
    #: chromosome -> size, as the chain file gives them for the source and the target side
    source_sizes: dict[str, int] = field(default_factory=dict)
    target_sizes: dict[str, int] = field(default_factory=dict)

    def lift(self, chrom: pl.Series, pos: pl.Series) -> tuple[pl.Series, pl.Series]:
        """The lifted chromosome names and 1-based positions (null where nothing maps) of the
        given ones (names without ``chr``, 1-based positions)."""
        n = chrom.len()
        out_chrom: list[str | None] = [None] * n
        out_pos = np.full(n, -1, dtype=np.int64)
        names = chrom.to_list()
        positions = pos.fill_null(-1).to_numpy().astype(np.int64) - 1  # to 0-based
        by_chrom: dict[str, list[int]] = {}
        for k, name in enumerate(names):
            if name is not None and positions[k] >= 0:
                by_chrom.setdefault(normalise_chrom_name(name), []).append(k)
        for name, rows in by_chrom.items():
            pending = np.array(rows, dtype=np.int64)
            for blocks in self.chains.get(name, []):
                if pending.size == 0:
                    break
                x = positions[pending]
                at = np.searchsorted(blocks.source_start, x, side="right") - 1
                inside = (at >= 0) & (x < blocks.source_end[np.maximum(at, 0)])
                if not inside.any():
                    continue
                hit = pending[inside]
                offset = x[inside] - blocks.source_start[at[inside]]
                mapped = blocks.target_start[at[inside]] + offset
                if blocks.reverse:  # positions counted from the end of the target chromosome
                    mapped = blocks.target_size - 1 - mapped
                out_pos[hit] = mapped + 1
                lifted = _target_name(blocks.target)
                for k in hit:
                    out_chrom[k] = lifted
                pending = pending[~inside]
        lifted_pos = pl.Series(out_pos).replace(-1, None).cast(pl.Int64)
        return pl.Series(out_chrom, dtype=pl.Utf8), lifted_pos

    def check_builds(self, source: GenomeBuild, target: GenomeBuild, path: Path) -> None:
        """Refuse a chain whose chromosome sizes are not those of ``source`` -> ``target``."""
        for side, sizes, build in (
            ("source", self.source_sizes, source),
            ("target", self.target_sizes, target),
        ):
            known = CHROMOSOME_LENGTHS[build]
            for name, size in sizes.items():
                bare = _target_name(name)
                if bare in known and known[bare] != size:
                    raise LiftoverError(
                        f"{path}: its {side} chromosome {name} is {size:,} bp long, not the "
                        f"{known[bare]:,} of {build}: it does not lift {source} to {target}"
                    )


def _target_name(name: str) -> str:
    """``chr22_KI270879v1_alt`` -> ``22``, as pgscatalog names lifted chromosomes."""
    return normalise_chrom_name(name).split("_")[0]


def parse_chain(text: str, source: str = "chain file") -> Chain:
    """Parse UCSC chain text (``chain`` header lines, then ``size dt dq`` lines, the last one
    ``size`` alone)."""
    chain = Chain()
    lines = text.splitlines()
    k = 0
    order = 0
    while k < len(lines):
        line = lines[k].strip()
        k += 1
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if fields[0] != "chain" or len(fields) < 12:
            raise LiftoverError(f"{source}: line {k}: expected a 'chain' header, got {line[:60]!r}")
        try:
            score = float(fields[1])
            t_name, t_size, t_strand, t_start = fields[2], int(fields[3]), fields[4], int(fields[5])
            q_name, q_size, q_strand, q_start = (
                fields[7],
                int(fields[8]),
                fields[9],
                int(fields[10]),
            )
        except ValueError:
            raise LiftoverError(f"{source}: line {k}: a malformed chain header") from None
        if t_strand != "+" or q_strand not in "+-":
            raise LiftoverError(f"{source}: line {k}: strands must be + and +/-")
        starts, ends, targets = [], [], []
        t, q = t_start, q_start
        while True:
            if k >= len(lines):
                raise LiftoverError(f"{source}: the chain ending the file has no last block")
            parts = lines[k].split()
            k += 1
            try:
                numbers = [int(p) for p in parts]
            except ValueError:
                raise LiftoverError(f"{source}: line {k}: not a block line") from None
            if len(numbers) not in (1, 3) or numbers[0] < 0:
                raise LiftoverError(f"{source}: line {k}: a block line is size [dt dq]")
            size = numbers[0]
            starts.append(t)
            ends.append(t + size)
            targets.append(q)
            if len(numbers) == 1:
                break
            t += size + numbers[1]
            q += size + numbers[2]
        key = normalise_chrom_name(t_name)
        chain.chains.setdefault(key, []).append(
            _Blocks(
                score,
                order,
                q_name,
                q_size,
                q_strand == "-",
                np.array(starts, dtype=np.int64),
                np.array(ends, dtype=np.int64),
                np.array(targets, dtype=np.int64),
            )
        )
        chain.source_sizes[t_name] = t_size
        chain.target_sizes[q_name] = q_size
        order += 1
    if not chain.chains:
        raise LiftoverError(f"{source}: no chains")
    for chains in chain.chains.values():
        chains.sort(key=lambda b: (-b.score, b.order))
    return chain


def read_chain(path: Path) -> Chain:
    """Read a chain file, plain or gzip-compressed."""
    try:
        data = read_inflated(path)
    except UnreadableFile as exc:
        raise LiftoverError(f"{path}: chain file: {exc}") from exc
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise LiftoverError(f"{path}: not a text chain file") from None
    return parse_chain(text, str(path))


@dataclass(frozen=True)
class Liftover:
    """A chain read once and the target build it lifts to."""

    chain: Chain
    path: Path

    @classmethod
    def read(cls, path: Path) -> Liftover:
        return cls(read_chain(path), Path(path))

    def lift_file(
        self,
        chrom: pl.Series,
        pos: pl.Series,
        source: str | None,
        target: str,
        name: str,
    ) -> tuple[pl.Series, pl.Series, int]:
        """Lift one scoring file's positions from build ``source`` to ``target``: the lifted
        chromosomes and positions (null where unmapped) and how many rows did not lift."""
        source_build = None if source is None else GenomeBuild.parse(source)
        target_build = GenomeBuild.parse(target)
        if source_build not in LIFT_BUILDS or target_build not in LIFT_BUILDS:
            raise LiftoverError(
                f"{name}: cannot lift genome build {source or 'not reported (NR)'} to {target} "
                "(liftover goes between GRCh37 and GRCh38; the file's #genome_build must say "
                "which it is)"
            )
        assert source_build is not None
        assert target_build is not None
        self.chain.check_builds(source_build, target_build, self.path)
        had = chrom.is_not_null() & pos.is_not_null()
        lifted_chrom, lifted_pos = self.chain.lift(chrom, pos)
        unmapped = int((had & lifted_pos.is_null()).sum())
        total = int(had.sum())
        if total and (total - unmapped) / total < MIN_LIFT:
            raise LiftoverError(
                f"{name}: only {total - unmapped} of {total} positions lift from {source_build} "
                f"to {target_build} with {self.path.name} (at least {MIN_LIFT:.0%} must)"
            )
        return lifted_chrom, lifted_pos, unmapped
