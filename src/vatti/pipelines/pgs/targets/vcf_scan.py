"""One pass over a text VCF that lists its variants and keeps its GT calls, packed, for scoring.

A gzip stream can only be inflated from its start, and inflating is the largest cost of reading a
VCF.gz; so the pass that lists the variants (needed for matching) also keeps the calls, and the
scoring pass never reads the file again. A record whose FORMAT is ``GT`` alone, with biallelic
calls of three bytes (``0/1``, ``1|1``, ``./.``), is decoded with numpy and kept as 2 bits per
sample (0, 1 or 2 ALT copies, 3 = missing) in an anonymous temporary file; any other record keeps
its whole line and is decoded by :mod:`.vcf_text` when scored. When the kept data would pass
:data:`FILE_LIMIT` bytes the calls are dropped and scoring reads the file again.

Measured against the alternatives (issue 9, the benchmark's 2,000 x 200,000 VCF.gz, 136,000
variants scored): scoring from the kept calls took 2.5 s of CPU, reading the file again 9.7 s
and 150 MB more memory; tabix region reads would inflate nearly every BGZF block again (half the
variants are scored, spread over the whole file), so they cost what reading it again does.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.targets import vcf_text

#: At most this many bytes of kept calls per file (above: scoring reads the file again).
FILE_LIMIT = 4 << 30
#: Kept calls of every file not yet scored, at most (the oldest are dropped first).
TOTAL_LIMIT = 8 << 30
MISSING = 3
_PREFIX = 1024  # bytes of a line searched for the nine fixed columns at first
_CHUNK = 1 << 22  # bytes inflated at a time
_NL, _HASH = ord("\n"), ord("#")
_INVALID = 16


def _allele_table(follow: bytes) -> npt.NDArray[np.uint8]:
    """Code of every ``allele byte + follow byte`` pair read as a little-endian uint16."""
    table = np.full(1 << 16, _INVALID, dtype=np.uint8)
    for char, code in ((b"0", 0), (b"1", 1), (b".", 4)):
        for sep in follow:
            table[char[0] | (sep << 8)] = code
    return table


_FIRST = _allele_table(b"/|")
_SECOND = _allele_table(b"\t")
#: byte -> its four 2-bit codes, lowest bits first.
_UNPACK = np.array([[(b >> s) & 3 for s in (0, 2, 4, 6)] for b in range(256)], dtype=np.uint8)
#: code -> copies of REF, of ALT, of any other allele (a missing call counts 0).
_DOSES = np.array([[2, 1, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]], dtype=np.float64)
#: [allele kind * 256 + byte] -> the dosages of its four calls.
_BYTE_DOSES = _DOSES[:, _UNPACK].reshape(3 * 256, 4)
#: Bytes holding at least one missing call.
_HAS_MISSING = (_UNPACK == MISSING).any(axis=1)


def encode_rows(
    cells: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """2-bit codes of ``m`` x ``4n`` bytes of ``a/b<TAB>`` calls, packed ``n/4`` bytes a row.

    ``n`` must be a multiple of 4 (pad with ``0/0``). Returns the packed rows and which rows were
    biallelic three-byte calls throughout; other rows hold garbage.
    """
    pairs = cells.view("<u2")
    codes = _FIRST[pairs[:, 0::2]]
    codes += _SECOND[pairs[:, 1::2]]
    valid = codes.max(axis=1, initial=0) < _INVALID
    np.minimum(codes, MISSING, out=codes)
    packed = codes[:, 0::4] | (codes[:, 1::4] << 2)
    packed |= codes[:, 2::4] << 4
    packed |= codes[:, 3::4] << 6
    return packed, valid


def decode_rows(
    packed: npt.NDArray[np.uint8], alleles: npt.NDArray[np.int16], n_samples: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Copies of ``alleles[i]`` per sample from packed rows (m x n) and the sorted flat indices
    of the missing calls (which hold 0)."""
    m, width = packed.shape
    kind = np.minimum(alleles, 2).astype(np.intp) * 256
    values = np.take(_BYTE_DOSES, packed + kind[:, None], axis=0).reshape(m, 4 * width)
    if 4 * width != n_samples:
        values = np.ascontiguousarray(values[:, :n_samples])
    at = np.flatnonzero(_HAS_MISSING[packed])
    row, col = np.divmod(at, width)
    hit = _UNPACK[packed.reshape(-1)[at]] == MISSING  # k x 4
    which, slot = np.nonzero(hit)
    missing = row[which] * n_samples + 4 * col[which] + slot
    return values, missing.astype(np.int64)


def _temp_file() -> BinaryIO:
    """An anonymous file (removed by the system once closed), owned by :class:`GtCalls`."""
    return tempfile.TemporaryFile(prefix="vatti-gt-")


@dataclass
class GtCalls:
    """The GT calls of every record of one file, kept by :func:`scan`."""

    n_samples: int
    packed: BinaryIO = field(default_factory=_temp_file)
    lines: BinaryIO = field(default_factory=_temp_file)
    slots: array[int] = field(default_factory=lambda: array("q"))  # >= 0 packed row, < 0 line
    line_offsets: array[int] = field(default_factory=lambda: array("q", [0]))
    n_packed: int = 0

    @property
    def row_bytes(self) -> int:
        return (self.n_samples + 3) // 4

    @property
    def size(self) -> int:
        return self.n_packed * self.row_bytes + self.line_offsets[-1]

    def add_packed(self, rows: npt.NDArray[np.uint8]) -> None:
        self.packed.write(rows.tobytes())
        self.slots.extend(range(self.n_packed, self.n_packed + rows.shape[0]))
        self.n_packed += rows.shape[0]

    def add_line(self, line: bytes) -> None:
        self.slots.append(-len(self.line_offsets))
        self.lines.write(line)
        self.line_offsets.append(self.line_offsets[-1] + len(line))

    def close(self) -> None:
        self.packed.close()
        self.lines.close()

    def _packed_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        width = self.row_bytes
        fd = self.packed.fileno()
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if (hi - lo) <= 4 * rows.size + 64:
            span = os.pread(fd, (hi - lo) * width, lo * width)
            return np.frombuffer(span, dtype=np.uint8).reshape(hi - lo, width)[rows - lo]
        out = np.empty((rows.size, width), dtype=np.uint8)
        for i, row in enumerate(rows.tolist()):
            out[i] = np.frombuffer(os.pread(fd, width, row * width), dtype=np.uint8)
        return out

    def _line(self, slot: int) -> bytes:
        lo, hi = self.line_offsets[-slot - 1], self.line_offsets[-slot]
        return os.pread(self.lines.fileno(), hi - lo, lo)

    def dosages(
        self, variant_idx: npt.NDArray[np.uint32], alleles: npt.NDArray[np.int16]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Copies of ``alleles[i]`` at record ``variant_idx[i]`` (sorted), m x n, and the
        sorted flat indices of the missing calls (which hold 0)."""
        self.packed.flush()
        self.lines.flush()
        slots = np.frombuffer(self.slots, dtype=np.int64)[variant_idx]
        fast = slots >= 0
        if fast.all():
            return decode_rows(self._packed_rows(slots), alleles, self.n_samples)
        n = self.n_samples
        out = np.empty((variant_idx.size, n), dtype=np.float64)
        missing = [np.empty(0, dtype=np.int64)]
        rows = np.flatnonzero(fast)
        if rows.size:
            out[rows], lost = decode_rows(self._packed_rows(slots[rows]), alleles[rows], n)
            missing.append(rows[lost // n] * n + lost % n)
        slow = np.flatnonzero(~fast)
        lines = [self._line(int(slots[i])) for i in slow]
        decoded = vcf_text.decode_lines(lines, alleles[slow], n)
        row, col = np.nonzero(np.isnan(decoded))
        decoded[row, col] = 0.0
        out[slow] = decoded
        missing.append(slow[row] * n + col)
        return out, np.sort(np.concatenate(missing))


#: Columns of :attr:`Scan.variants`.
FIXED_SCHEMA: dict[str, type[pl.DataType]] = {
    "chrom": pl.Utf8,
    "pos": pl.Int64,
    "id": pl.Utf8,
    "ref": pl.Utf8,
    "alt": pl.Utf8,
}


@dataclass
class Scan:
    """CHROM, POS, ID, REF, ALT of every record, the sample names and (unless dropped) calls."""

    variants: pl.DataFrame
    samples: list[str]
    calls: GtCalls | None


def _fixed_frame(blocks: list[bytes]) -> pl.DataFrame:
    """Parse the tab-separated fixed columns gathered by :func:`scan`."""
    blocks = [b for b in blocks if b]
    if not blocks:
        return pl.DataFrame(schema=FIXED_SCHEMA)
    try:
        return pl.read_csv(
            b"\n".join(blocks) + b"\n",
            separator="\t",
            has_header=False,
            new_columns=list(FIXED_SCHEMA),
            schema=FIXED_SCHEMA,
            quote_char=None,
            comment_prefix=None,
        )
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"cannot read the fixed columns: {exc}") from exc


def scan(path: Path, *, keep_calls: bool = True) -> Scan:
    """Read the records of the text VCF ``path`` once (see the module docstring)."""
    samples: list[str] = []
    calls: GtCalls | None = None
    width = -1
    rest = b""
    blocks: list[bytes] = []
    for chunk in vcf_text._chunks(path, _CHUNK, 2):
        data = rest + chunk if rest else chunk
        size = len(data)
        at = 0
        fixed: list[bytes] = []  # CHROM..ALT of each record of this chunk
        fast: list[int] = []  # sample-column starts of the fast records of this chunk
        order: list[int] = []  # per record of this chunk: -1 fast, else its line's start
        ends: list[int] = []
        while at < size:
            if data[at] == _HASH:
                end = data.find(b"\n", at)
                if end < 0:
                    break
                if data.startswith(b"#CHROM", at):
                    header = data[at:end].rstrip(b"\r").split(b"\t")
                    samples = [s.decode() for s in header[9:]]
                    width = 4 * len(samples) - 1
                    if keep_calls and samples:
                        calls = GtCalls(len(samples))
                at = end + 1
                continue
            head = data[at : at + _PREFIX].split(b"\t", 9)
            end = -1
            if len(head) == 10 and calls is not None:
                sample_start = at + min(_PREFIX, size - at) - len(head[9])
                tail = sample_start + width
                if tail < size and data[tail] == _NL and head[8] == b"GT" and b"," not in head[4]:
                    end = tail
                    fast.append(sample_start)
                    order.append(-1)
            if end < 0:
                end = data.find(b"\n", at)
                if end < 0:
                    break
                if len(head) < 10 or end - at < _PREFIX:
                    head = data[at:end].rstrip(b"\r").split(b"\t", 9)
                    if len(head) < 8:
                        raise ValueError(f"a record has {len(head)} columns, expected 8 or more")
                order.append(at)
                ends.append(end)
            fixed.append(b"\t".join(head[:5]))
            at = end + 1
        if calls is not None:
            calls = _keep_chunk(calls, data, fast, order, ends, width)
        blocks.append(b"\n".join(fixed))
        rest = data[at:]
    if rest.strip():
        raise ValueError("the last record has no line end")
    return Scan(_fixed_frame(blocks), samples, calls)


def _encode_fast(
    calls: GtCalls, data: bytes, starts: list[int], width: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """Packed codes of the records whose sample columns start at ``starts`` of ``data``."""
    row_bytes = calls.row_bytes
    padded = 16 * row_bytes  # four bytes a call, four calls a byte
    cells = np.empty((len(starts), padded), dtype=np.uint8)
    filler = (b"\t" + b"0/0\t" * 4)[: padded - width]
    cells[:, width:] = np.frombuffer(filler, dtype=np.uint8)
    source = np.frombuffer(data, dtype=np.uint8)
    for i, start in enumerate(starts):
        cells[i, :width] = source[start : start + width]
    return encode_rows(cells)


def _keep_chunk(
    calls: GtCalls, data: bytes, fast: list[int], order: list[int], ends: list[int], width: int
) -> GtCalls | None:
    """Keep the calls of one chunk's records in file order; ``None`` once over the limit."""
    packed, valid = _encode_fast(calls, data, fast, width)
    if len(fast) == len(order) and valid.all():
        calls.add_packed(packed)
    else:
        f = e = 0
        run = 0  # first fast row not yet kept
        for start in order:
            if start < 0 and valid[f]:
                f += 1
                continue
            if run < f:
                calls.add_packed(packed[run:f])
            if start < 0:
                begin = fast[f]
                calls.add_line(data[data.rfind(b"\n", 0, begin) + 1 : begin + width])
                f += 1
            else:
                calls.add_line(data[start : ends[e]].rstrip(b"\r"))
                e += 1
            run = f
        if run < f:
            calls.add_packed(packed[run:f])
    if calls.size > FILE_LIMIT:
        calls.close()
        return None
    return calls


# -- calls kept between the listing pass and the scoring pass (separate reader objects) --------

_KEPT: dict[tuple[str, int, int], GtCalls] = {}


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def keep(path: Path, calls: GtCalls) -> None:
    """Hold ``calls`` of ``path`` for :func:`take`, dropping the oldest beyond the limit."""
    old = _KEPT.pop(_key(path), None)
    if old is not None:
        old.close()
    _KEPT[_key(path)] = calls
    while sum(c.size for c in _KEPT.values()) > TOTAL_LIMIT and len(_KEPT) > 1:
        _KEPT.pop(next(iter(_KEPT))).close()


def take(path: Path) -> GtCalls | None:
    """The calls of ``path`` kept by :func:`keep` (unless the file changed since); the caller
    closes them."""
    return _KEPT.pop(_key(path), None)


@atexit.register
def _drop_kept() -> None:
    """Close what a listing pass kept but no scoring pass took (the files vanish on close)."""
    while _KEPT:
        _KEPT.popitem()[1].close()
