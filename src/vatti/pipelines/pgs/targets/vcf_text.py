"""Fast path for the GT calls of text VCF (``.vcf``, ``.vcf.gz``, bgzip or plain gzip).

htslib parses every FORMAT field of every record; scoring needs the GT of the matched records
only. This reader decompresses in a background thread (zlib releases the GIL) and splits lines
itself: a skipped record costs one newline search, and a wanted record whose sample fields are
all three bytes (``0/1``, ``1|0``, ``./.``, the usual hard-call VCF) is decoded with numpy in one
go. Any other record (longer fields, multi-digit alleles, other FORMAT keys first) is decoded by
the general, slower path of :func:`parse_gt_fields`; the rules are those of ``vcf.gt_allele_dosage``
(half-missing is missing, a haploid call counts twice).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vatti.pipelines.pgs.inflate import open_gzip

_CHUNK = 1 << 24
_ZERO, _DOT = ord("0"), ord(".")


def _chunks(path: Path, size: int = _CHUNK, ahead: int = 3) -> Iterator[bytes]:
    """Decompressed chunks of ``path``, produced by a background thread (``ahead`` queued)."""
    pipe: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            gz = path.name.endswith(".gz")
            with open_gzip(path) if gz else open(path, "rb") as stream:
                while not stop.is_set():
                    chunk = stream.read(size)
                    if not chunk:
                        break
                    pipe.put(chunk)
            pipe.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises
            pipe.put(exc)

    thread = threading.Thread(target=produce, name="vcf-inflate", daemon=True)
    thread.start()
    try:
        while True:
            item = pipe.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                pipe.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def select_lines(path: Path, wanted: npt.NDArray[np.uint32]) -> Iterator[tuple[int, bytes]]:
    """``(record index, line)`` of the records at the sorted, unique indices ``wanted``.

    Lines of other records are never copied. Stops after the last wanted record.
    """
    if wanted.size == 0:
        return
    targets = wanted.tolist()
    t = 0
    record = 0
    rest = b""
    hash_mark = ord("#")
    for chunk in _chunks(path):
        data = rest + chunk if rest else chunk
        start = 0
        size = len(data)
        while start < size:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if data[start] != hash_mark:
                if record == targets[t]:
                    yield record, data[start:end].rstrip(b"\r")
                    t += 1
                    if t == len(targets):
                        return
                record += 1
            start = end + 1
        rest = data[start:]
    if rest.strip() and rest[0] != hash_mark and record == targets[t]:
        yield record, rest.rstrip(b"\r\n")


def _samples_part(line: bytes) -> tuple[bytes, bytes]:
    """(FORMAT, the sample columns) of a record line."""
    at = 0
    for _ in range(8):
        at = line.index(b"\t", at) + 1
    end = line.find(b"\t", at)
    if end < 0:
        return line[at:], b""
    return line[at:end], line[end + 1 :]


def parse_gt_fields(fields: list[bytes], allele: int) -> npt.NDArray[np.float64]:
    """Copies of ``allele`` per sample from GT strings (general path, any ploidy <= 2)."""
    out = np.empty(len(fields), dtype=np.float64)
    for i, field in enumerate(fields):
        gt = field.split(b":", 1)[0].replace(b"|", b"/").split(b"/")
        if len(gt) == 1:
            gt = gt * 2
        if b"." in gt[:2] or not all(g.isdigit() for g in gt[:2]):
            out[i] = np.nan
        else:
            out[i] = (int(gt[0]) == allele) + (int(gt[1]) == allele)
    return out


def _decode_cells(
    cells: npt.NDArray[np.uint8], alleles: npt.NDArray[np.int16]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Dosages from ``m`` x ``n`` x 4 bytes of ``a/b<TAB>`` cells, and which rows were valid."""
    first, sep, second, tab = (cells[:, :, j] for j in range(4))
    ok_cells = ((sep == ord("/")) | (sep == ord("|"))) & (tab == ord("\t"))
    for allele_byte in (first, second):
        ok_cells &= ((allele_byte - np.uint8(_ZERO)) <= 9) | (allele_byte == _DOT)
    wanted = (alleles + _ZERO).astype(np.uint8)[:, None]
    dosage = (first == wanted).astype(np.float64)
    dosage += second == wanted
    dosage[(first == _DOT) | (second == _DOT)] = np.nan
    return dosage, ok_cells.all(axis=1)


def decode_lines(
    lines: list[bytes], alleles: npt.NDArray[np.int16], n_samples: int
) -> npt.NDArray[np.float64]:
    """Copies of ``alleles[i]`` per sample in record ``lines[i]`` (NaN = missing), m x n."""
    out = np.empty((len(lines), n_samples), dtype=np.float64)
    parts = [_samples_part(line) for line in lines]
    width = 4 * n_samples - 1
    fast = [i for i, (fmt, samples) in enumerate(parts) if fmt == b"GT" and len(samples) == width]
    slow = set(range(len(lines))) - set(fast)
    if fast:
        joined = b"\t".join(parts[i][1] for i in fast) + b"\t"
        cells = np.frombuffer(joined, dtype=np.uint8).reshape(len(fast), n_samples, 4)
        dosage, valid = _decode_cells(cells, alleles[fast])
        if len(fast) == len(lines) and valid.all():
            return dosage
        rows = np.asarray(fast)
        out[rows[valid]] = dosage[valid]
        slow.update(rows[~valid].tolist())
    for i in sorted(slow):
        fmt, samples = parts[i]
        fields = samples.split(b"\t") if samples else []
        if len(fields) != n_samples:
            raise ValueError(f"a record has {len(fields)} sample columns, expected {n_samples}")
        if fmt.split(b":", 1)[0] != b"GT":
            out[i] = np.nan  # no GT (the VCF spec puts it first when present): every call missing
            continue
        out[i] = parse_gt_fields(fields, int(alleles[i]))
    return out
