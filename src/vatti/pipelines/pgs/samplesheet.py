"""Read a PGS Catalog Calculator samplesheet (``vatti pgs score --input``) into the job's
target genome rows, checked by the same rules as a job's ``target_genomes``.

Two forms, as pgsc_calc reads them:

* **CSV** (``.csv``): columns ``sampleset,path_prefix,chrom,format`` and optionally
  ``vcf_genotype_field`` (``GT``, the default, or ``DS`` to read dosages) or
  ``vcf_import_dosage`` (``true``/``false``). ``path_prefix`` is the path without its
  endings; each file is the first of its format's endings that exists (compressed ones first).
* **JSON** (``.json``): a list of hattivatti's rows, ``sampleset``, ``chrom``,
  ``vcf_import_dosage``, ``geno``, ``pheno``, ``variants``, ``format``.

A relative path is relative to the samplesheet's folder (pgsc_calc does so for CSV).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from vatti.pipelines.errors import PipelineError
from vatti.pipelines.pgs.params import TargetGenome, TargetGenomes
from vatti.pipelines.pgs.targets.base import GenotypeFile
from vatti.pipelines.pgs.vocabulary import TargetFormat

CSV_COLUMNS = ("sampleset", "path_prefix", "chrom", "format")
_OPTIONAL_CSV_COLUMNS = ("vcf_genotype_field", "vcf_import_dosage")
_TRUE, _FALSE = ("true", "t", "1", "yes"), ("false", "f", "0", "no", "")
_ROWS: TypeAdapter[list[TargetGenome]] = TypeAdapter(TargetGenomes)


class SamplesheetError(PipelineError):
    """A samplesheet cannot be read, or breaks a samplesheet rule."""

    code = "pgs_samplesheet_invalid"
    exit_code = 2  # a usage error, as a bad option


def read_samplesheet(path: Path) -> list[TargetGenome]:
    """The rows of a CSV or JSON samplesheet, validated as a job's ``target_genomes``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SamplesheetError(f"{path}: cannot read the samplesheet ({exc})") from exc
    if path.suffix.lower() == ".json":
        raw = _json_rows(text, path)
    elif path.suffix.lower() == ".csv":
        raw = [_csv_row(row, path) for row in _csv_rows(text, path)]
    else:
        raise SamplesheetError(f"{path}: a samplesheet is a .csv or a .json file")
    try:
        return _ROWS.validate_python(raw)
    except ValidationError as exc:
        raise SamplesheetError(f"{path}: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    """pydantic's errors, one clause each, naming the row (counted from 1) and its field."""
    clauses = []
    for error in exc.errors():
        where = [str(p + 1) if isinstance(p, int) else str(p) for p in error["loc"]]
        label = f"row {where[0]}" + (f", {where[1]}" if len(where) > 1 else "") if where else ""
        clauses.append(f"{label}: {error['msg']}" if label else error["msg"])
    return "; ".join(clauses)


def _csv_rows(text: str, path: Path) -> list[dict[str, str]]:
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in (*CSV_COLUMNS, *_OPTIONAL_CSV_COLUMNS)]
    if missing or unknown:
        raise SamplesheetError(
            f"{path}: the columns are {', '.join(CSV_COLUMNS)} (and optionally "
            f"{' or '.join(_OPTIONAL_CSV_COLUMNS)})"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    if not rows:
        raise SamplesheetError(f"{path}: the samplesheet has no rows")
    return rows


def _csv_row(row: dict[str, str], path: Path) -> dict[str, Any]:
    """One CSV row as a job's target genome row: its prefix resolved to the format's files."""
    try:
        fmt = TargetFormat.parse(row["format"])
    except ValueError as exc:
        raise SamplesheetError(f"{path}: sampleset {row['sampleset']!r}: {exc}") from None
    file = GenotypeFile.from_prefix(fmt, _beside(path, row["path_prefix"]))
    return {
        "sampleset": row["sampleset"],
        "chrom": row["chrom"] or None,
        "vcf_import_dosage": _dosage(row, path),
        "geno": str(file.geno),
        "pheno": str(file.samples),
        "variants": str(file.variants),
        "format": fmt.value,
    }


def _dosage(row: dict[str, str], path: Path) -> bool:
    field = row.get("vcf_genotype_field", "").upper()
    flag = row.get("vcf_import_dosage", "").lower()
    if field not in ("", "GT", "DS") or flag not in (*_TRUE, *_FALSE):
        raise SamplesheetError(
            f"{path}: sampleset {row['sampleset']!r}: vcf_genotype_field is GT or DS, "
            "vcf_import_dosage true or false"
        )
    return field == "DS" or flag in _TRUE


def _json_rows(text: str, path: Path) -> list[Any]:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SamplesheetError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(rows, list):
        raise SamplesheetError(f"{path}: a JSON samplesheet is a list of rows")
    for row in rows:
        if isinstance(row, dict):
            for name in ("geno", "pheno", "variants"):
                if isinstance(row.get(name), str):
                    row[name] = str(_beside(path, row[name]))
    return rows


def _beside(samplesheet: Path, name: str) -> Path:
    """``name`` as a path, relative ones taken from the samplesheet's folder."""
    given = Path(name).expanduser()
    return given if given.is_absolute() else samplesheet.parent / given
