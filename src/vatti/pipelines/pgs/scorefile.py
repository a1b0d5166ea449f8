"""Read PGS Catalog scoring files (plain or gzipped) into one long table of score variants.

The rules follow ``pgscatalog-format`` (pgscatalog.core 1.1.1):

* **Positions**: a harmonized file (``hm_chr``/``hm_pos`` columns and a ``#HmPOS_build`` header)
  gives its harmonized positions, which must be in the target build; its ``hm_inferOtherAllele``
  fills a missing ``other_allele`` when it names a single allele. Any other file gives
  ``chr_name``/``chr_position``, which must be in the target build (``#genome_build``). Rows
  without a position are dropped and counted; files with rsIDs only are refused.
* **Effect types**: ``is_dominant``/``is_recessive`` give dominant/recessive; both set is an
  error. Non-additive (``dosage_N_weight``) scores and interaction terms are refused.
* **Complex variants** (``is_haplotype``/``is_diplotype`` rows, effect alleles that are not
  A/C/G/T such as HLA or APOE alleles) are dropped and counted.
* **Duplicates**: within one score, a row whose ``chr:pos:effect:other`` was already seen is
  flagged ``is_duplicated`` (the first one is kept unflagged), as pgscatalog-format does.
* **Several weights** (a "wide" custom file): columns ``effect_weight_<name>`` instead of
  ``effect_weight`` are one score each, named by their column (``effect_weight_<name>``, as
  pygscatalog's reader names them); a row whose cell is empty is not in that score. A file
  with both ``effect_weight`` and ``effect_weight_*`` columns is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from vatti.pipelines.errors import PipelineError
from vatti.pipelines.pgs.inflate import UnreadableFile, read_inflated
from vatti.pipelines.pgs.liftover import Liftover
from vatti.pipelines.pgs.vocabulary import CHR_PREFIX, TARGET_BUILDS, EffectType, GenomeBuild

SCORE_VARIANT_SCHEMA: dict[str, pl.DataType] = {
    "accession": pl.Utf8(),
    "row_nr": pl.Int64(),
    "chr_name": pl.Utf8(),
    "chr_position": pl.Int64(),
    "effect_allele": pl.Utf8(),
    "other_allele": pl.Utf8(),
    "effect_weight": pl.Float64(),
    "effect_type": pl.Utf8(),
    "rsid": pl.Utf8(),
    "is_duplicated": pl.Boolean(),
}

#: Reasons a row is dropped, the keys of :attr:`ScoringFile.dropped`.
DROP_COMPLEX = "haplotype_or_diplotype"
DROP_NON_ACGT = "non_acgt_effect_allele"
DROP_NO_POSITION = "missing_position"
DROP_UNLIFTED = "liftover_unmapped"

_TRUE = ("true", "t", "1", "yes")
_FALSE = ("false", "f", "0", "no", "")
_NON_ADDITIVE = ("dosage_0_weight", "dosage_1_weight", "dosage_2_weight")


class ScoringFileError(PipelineError):
    """A scoring file cannot be used: unreadable, malformed, or not supported."""

    code = "pgs_scorefile_invalid"
    exit_code = 65  # EX_DATAERR


class ScoringFileBuildError(ScoringFileError):
    """A scoring file's positions are not in the target genome build."""

    code = "pgs_scorefile_build"


class UnsupportedScoringFile(ScoringFileError):
    """A valid scoring file that uses features we do not score (non-additive, interactions)."""

    code = "pgs_scorefile_unsupported"


class DuplicateAccession(ScoringFileError):
    """Two scoring files of one run carry the same accession."""

    code = "pgs_scorefile_duplicate_accession"


@dataclass(frozen=True)
class ScoreHeader:
    """The ``#key=value`` metadata lines at the top of a scoring file."""

    accession: str
    genome_build: str | None
    harmonized_build: str | None
    weight_type: str | None
    variants_number: int | None
    trait_reported: str | None
    raw: dict[str, str]


@dataclass(frozen=True)
class ScoringFile:
    """One scoring file: its header, its usable variants and the count of dropped rows."""

    path: Path
    header: ScoreHeader
    variants: pl.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def accessions(self) -> list[str]:
        """The scores of the file: its header's accession, or one per weight column."""
        return self.variants["accession"].unique(maintain_order=True).to_list()


#: The prefix of the weight columns of a file with several scores.
WEIGHT_PREFIX = "effect_weight_"


def weight_columns(columns: Sequence[str], accession: str) -> list[tuple[str, str]]:
    """(score name, weight column) of each score of a file with these columns.

    >>> weight_columns(["chr_name", "effect_weight"], "PGS1")
    [('PGS1', 'effect_weight')]
    >>> weight_columns(["effect_weight_height", "effect_weight_bmi"], "custom")
    [('effect_weight_height', 'effect_weight_height'), ('effect_weight_bmi', 'effect_weight_bmi')]
    """
    wide = [c for c in columns if c.startswith(WEIGHT_PREFIX) and len(c) > len(WEIGHT_PREFIX)]
    if not wide:
        return [(accession, "effect_weight")]
    return [(c, c) for c in wide]


def normalise_build(value: str | None) -> str | None:
    """A header's genome build in its GRC name (:meth:`GenomeBuild.parse`); ``None`` when not
    reported; a name that is no build as written (it matches no target build).

    >>> normalise_build("hg19"), normalise_build("GRCh38"), normalise_build("NR")
    ('GRCh37', 'GRCh38', None)
    >>> normalise_build("CHM13")
    'CHM13'
    """
    if value is None:
        return None
    try:
        build = GenomeBuild.parse(value)
    except ValueError:
        return value.strip()
    return None if build is None else build.value


def _file_stem(path: Path) -> str:
    """``PGS000001_hmPOS_GRCh38.txt.gz`` -> ``PGS000001_hmPOS_GRCh38``."""
    name = path.name
    for suffix in (".gz", ".txt", ".tsv"):
        name = name.removesuffix(suffix)
    return name or path.name


def parse_header(lines: Sequence[str], path: Path) -> ScoreHeader:
    """The header of the given ``#`` lines (``##`` section titles are skipped)."""
    raw: dict[str, str] = {}
    for line in lines:
        if line.startswith("##") or "=" not in line:
            continue
        key, _, value = line[1:].partition("=")
        raw[key.strip()] = value.strip().strip("\t").strip()
    accession = (
        raw.get("pgs_id") or raw.get("omicspred_id") or raw.get("pgs_name") or _file_stem(path)
    )
    variants_number: int | None = None
    if raw.get("variants_number"):
        try:
            variants_number = int(raw["variants_number"])
        except ValueError as exc:
            raise ScoringFileError(
                f"{path}: header #variants_number={raw['variants_number']!r} is not a number"
            ) from exc
    return ScoreHeader(
        accession=accession,
        genome_build=normalise_build(raw.get("genome_build")),
        harmonized_build=normalise_build(raw.get("HmPOS_build")),
        weight_type=raw.get("weight_type") or None,
        variants_number=variants_number,
        trait_reported=raw.get("trait_reported") or None,
        raw=raw,
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return read_inflated(path)
    except UnreadableFile as exc:
        raise ScoringFileError(f"{path}: scoring file: {exc}") from exc


def _split_header(data: bytes, path: Path) -> tuple[list[str], int]:
    """The leading ``#`` lines decoded, and the byte offset where the column line starts."""
    lines: list[str] = []
    offset = 0
    while offset < len(data) and data[offset : offset + 1] == b"#":
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end + 1
        try:
            lines.append(data[offset:end].decode("utf-8").rstrip("\r\n"))
        except UnicodeDecodeError as exc:
            raise ScoringFileError(f"{path}: header line {len(lines) + 1} is not UTF-8") from exc
        offset = end
    return lines, offset


def _read_table(body: bytes, path: Path) -> pl.DataFrame:
    if not body.strip():
        raise ScoringFileError(f"{path}: the scoring file has no column header line")
    try:
        table = pl.read_csv(
            body,
            separator="\t",
            infer_schema=False,
            quote_char=None,
            comment_prefix="#",
            truncate_ragged_lines=False,
        )
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise ScoringFileError(f"{path}: not a tab-separated scoring file ({exc})") from exc
    table = table.rename({c: c.strip() for c in table.columns})
    if table.height == 0:
        raise ScoringFileError(f"{path}: the scoring file has no variants")
    return table


class _Context:
    """A file's path and the line number of its first data row, for error messages."""

    def __init__(self, path: Path, first_line: int) -> None:
        self.path = path
        self.first_line = first_line

    def at(self, row: int, column: str, message: str) -> ScoringFileError:
        line = self.first_line + row
        return ScoringFileError(f"{self.path}: line {line}, column {column!r}: {message}")


def _blank(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars()


def _nullable(column: str) -> pl.Expr:
    value = _blank(column)
    return pl.when(value == "").then(None).otherwise(value)


def _flag(table: pl.DataFrame, column: str, ctx: _Context) -> pl.Series:
    """A TRUE/FALSE column as booleans (empty is false); all false when absent."""
    if column not in table.columns:
        return pl.repeat(False, table.height, eager=True, dtype=pl.Boolean)
    value = table.get_column(column).fill_null("").str.strip_chars().str.to_lowercase()
    bad = ~(value.is_in(_TRUE) | value.is_in(_FALSE))
    if bad.any():
        row = int(bad.arg_true()[0])
        raise ctx.at(row, column, f"{value[row]!r} is not TRUE or FALSE")
    return value.is_in(_TRUE)


def _numbers(table: pl.DataFrame, column: str, dtype: pl.DataType, ctx: _Context) -> pl.Series:
    text = table.get_column(column).fill_null("").str.strip_chars()
    values = text.cast(dtype, strict=False)
    bad = values.is_null() & (text != "")
    if bad.any():
        row = int(bad.arg_true()[0])
        raise ctx.at(row, column, f"{text[row]!r} is not a number")
    return values


def _check_effect_columns(table: pl.DataFrame, ctx: _Context) -> None:
    wide = [c for c in table.columns if c.startswith(WEIGHT_PREFIX)]
    if wide and "effect_weight" in table.columns:
        raise ScoringFileError(
            f"{ctx.path}: both effect_weight and {', '.join(wide)}: give one weight column, "
            "or several effect_weight_<name> columns (one score each)"
        )
    if not wide and "effect_weight" not in table.columns:
        if any(c in table.columns for c in _NON_ADDITIVE):
            raise UnsupportedScoringFile(
                f"{ctx.path}: non-additive effect types (dosage_N_weight) are not supported"
            )
        raise ScoringFileError(f"{ctx.path}: the required column 'effect_weight' is missing")
    if "effect_allele" not in table.columns:
        raise ScoringFileError(f"{ctx.path}: the required column 'effect_allele' is missing")


def _positions(
    table: pl.DataFrame,
    header: ScoreHeader,
    target_build: str | None,
    ctx: _Context,
    lifting: bool = False,
) -> tuple[str, str]:
    """The (chromosome, position) columns to use, after the build checks (a file whose own
    positions are in another build passes when ``lifting``)."""
    name = header.accession
    if "hm_chr" in table.columns and "hm_pos" in table.columns:
        built = header.harmonized_build
        if built is None:
            raise ScoringFileError(
                f"{ctx.path}: harmonized columns (hm_chr, hm_pos) without a #HmPOS_build header"
            )
        if target_build is not None and built != target_build:
            raise ScoringFileBuildError(
                f"{name}: harmonized build {built} differs from the target build "
                f"{target_build} (download the hmPOS_{target_build} file)"
            )
        return "hm_chr", "hm_pos"
    if "chr_name" not in table.columns or "chr_position" not in table.columns:
        raise ScoringFileError(
            f"{ctx.path}: the file has no chr_name/chr_position columns (rsID-only scoring "
            f"files are not supported; download a harmonized hmPOS file for {name})"
        )
    if target_build is not None and header.genome_build != target_build and not lifting:
        built = header.genome_build or "not reported (NR)"
        raise ScoringFileBuildError(
            f"{name}: genome build {built} differs from the target build {target_build} "
            f"and the file has no harmonized positions (download the hmPOS_{target_build} file, "
            "or lift it over with a chain file)"
        )
    return "chr_name", "chr_position"


def _effect_types(table: pl.DataFrame, ctx: _Context) -> pl.Series:
    dominant = _flag(table, "is_dominant", ctx)
    recessive = _flag(table, "is_recessive", ctx)
    both = dominant & recessive
    if both.any():
        row = int(both.arg_true()[0])
        raise ctx.at(row, "is_dominant", "a variant cannot be both dominant and recessive")
    return (
        pl.DataFrame({"d": dominant, "r": recessive})
        .select(
            pl.when(pl.col("d"))
            .then(pl.lit(EffectType.DOMINANT.value))
            .when(pl.col("r"))
            .then(pl.lit(EffectType.RECESSIVE.value))
            .otherwise(pl.lit(EffectType.ADDITIVE.value))
        )
        .to_series()
    )


def _variants(
    table: pl.DataFrame,
    header: ScoreHeader,
    target_build: str | None,
    ctx: _Context,
    liftover: Liftover | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    _check_effect_columns(table, ctx)
    chrom_col, pos_col = _positions(table, header, target_build, ctx, liftover is not None)
    lift = (
        liftover is not None
        and target_build is not None
        and chrom_col == "chr_name"
        and header.genome_build != target_build
    )
    interaction = _flag(table, "is_interaction", ctx)
    if interaction.any():
        row = int(interaction.arg_true()[0])
        raise UnsupportedScoringFile(
            f"{ctx.path}: line {ctx.first_line + row}: interaction terms (is_interaction) "
            "are not supported"
        )
    complex_rows = _flag(table, "is_haplotype", ctx) | _flag(table, "is_diplotype", ctx)
    effect = table.get_column("effect_allele").fill_null("").str.strip_chars().str.to_uppercase()
    no_effect = effect == ""
    if no_effect.any():
        raise ctx.at(int(no_effect.arg_true()[0]), "effect_allele", "the effect allele is missing")
    non_acgt = ~effect.str.contains(r"^[ACGT]+$")
    positions = _numbers(table, pos_col, pl.Int64(), ctx)
    chrom = table.get_column(chrom_col).fill_null("").str.strip_chars().str.replace(CHR_PREFIX, "")
    no_position = positions.is_null() | (chrom == "")
    unlifted = pl.repeat(False, table.height, eager=True, dtype=pl.Boolean)
    if lift:
        assert liftover is not None
        assert target_build is not None
        chrom, positions, _ = liftover.lift_file(
            chrom.set(no_position, None), positions, header.genome_build, target_build,
            header.accession,
        )  # fmt: skip
        unlifted = ~no_position & positions.is_null()
        chrom = chrom.fill_null("")

    keep_complex = ~complex_rows
    keep_acgt = keep_complex & ~non_acgt
    keep = keep_acgt & ~no_position & ~unlifted
    scores = weight_columns(table.columns, header.accession)
    wide = len(scores) > 1 or scores[0][1] != "effect_weight"
    all_weights = [_numbers(table, column, pl.Float64(), ctx) for _, column in scores]
    if not wide:
        missing_weight = keep & all_weights[0].is_null()
        if missing_weight.any():
            row = int(missing_weight.arg_true()[0])
            if any(c in table.columns for c in _NON_ADDITIVE):
                raise UnsupportedScoringFile(
                    f"{ctx.path}: line {ctx.first_line + row}: non-additive effect types "
                    "(dosage_N_weight) are not supported"
                )
            raise ctx.at(row, "effect_weight", "the effect weight is missing")
    dropped = {
        DROP_COMPLEX: int(complex_rows.sum()),
        DROP_NON_ACGT: int((keep_complex & non_acgt).sum()),
        DROP_NO_POSITION: int((keep_acgt & no_position).sum()),
        DROP_UNLIFTED: int((keep_acgt & unlifted).sum()),
    }
    columns = {
        "row_nr": pl.int_range(0, table.height, eager=True, dtype=pl.Int64),
        "chr_name": chrom,
        "chr_position": positions,
        "effect_allele": effect,
        "other_allele": _other_allele(table),
        "effect_type": _effect_types(table, ctx),
        "rsid": _rsid(table),
    }
    shared = pl.DataFrame(columns)
    frames = []
    for (accession, column), weights in zip(scores, all_weights, strict=True):
        frame = shared.with_columns(
            accession=pl.lit(accession, pl.Utf8), effect_weight=weights
        ).filter(keep & weights.is_not_null())
        if frame.height == 0:
            detail = ", ".join(f"{k}: {v}" for k, v in dropped.items() if v)
            what = f" for {column}" if wide else ""
            raise ScoringFileError(
                f"{ctx.path}: no usable variants{what} ({detail or 'none'} dropped)"
            )
        frames.append(_flag_duplicates(frame))
    return pl.concat(frames), {k: v for k, v in dropped.items() if v}


def _other_allele(table: pl.DataFrame) -> pl.Series:
    """``other_allele``, else the harmonizer's inferred allele; several alleles ("A/C") -> null."""
    exprs: list[pl.Expr] = []
    if "other_allele" in table.columns:
        exprs.append(_nullable("other_allele"))
    if "hm_inferOtherAllele" in table.columns:
        exprs.append(_nullable("hm_inferOtherAllele"))
    if not exprs:
        return pl.repeat(None, table.height, eager=True, dtype=pl.Utf8)
    value = pl.coalesce(exprs).str.to_uppercase()
    single = pl.when(value.str.contains("/")).then(None).otherwise(value)
    return table.select(single.alias("other_allele")).to_series()


def _rsid(table: pl.DataFrame) -> pl.Series:
    """The harmonized rsID, else the file's own; "." means none."""
    present = [c for c in ("hm_rsID", "rsID", "rsid") if c in table.columns]
    if not present:
        return pl.repeat(None, table.height, eager=True, dtype=pl.Utf8)
    known = [pl.when(_nullable(c) == ".").then(None).otherwise(_nullable(c)) for c in present]
    return table.select(pl.coalesce(known).alias("rsid")).to_series()


def _flag_duplicates(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [
        pl.col("accession"),
        pl.col("chr_name"),
        pl.col("chr_position"),
        pl.col("effect_allele"),
        pl.col("other_allele").fill_null(""),
    ]
    # a later row with the same keys as an earlier one is a duplicate
    return frame.with_columns(is_duplicated=~pl.struct(keys).is_first_distinct()).select(
        [pl.col(name).cast(dtype) for name, dtype in SCORE_VARIANT_SCHEMA.items()]
    )


def read_scoring_file(
    path: Path, target_build: str | None, liftover: Liftover | None = None
) -> ScoringFile:
    """Read one scoring file; positions must be (or be harmonized) in ``target_build``, or, with
    ``liftover``, are lifted there from the file's ``#genome_build`` (:mod:`.liftover`).

    ``target_build`` None takes the file's own positions whatever its build.
    """
    path = Path(path)
    target = normalise_build(target_build)
    if target is not None and target not in TARGET_BUILDS:
        raise ScoringFileError(f"unsupported target build {target_build!r} (GRCh37 or GRCh38)")
    data = _read_bytes(path)
    if not data.strip():
        raise ScoringFileError(f"{path}: the scoring file is empty")
    lines, offset = _split_header(data, path)
    header = parse_header(lines, path)
    table = _read_table(data[offset:], path)
    if "accession" in table.columns and "effect_type" in table.columns:
        raise ScoringFileError(
            f"{path}: this is a normalised (pgscatalog-format output) file, not a scoring file"
        )
    ctx = _Context(path, first_line=len(lines) + 2)
    variants, dropped = _variants(table, header, target, ctx, liftover)
    return ScoringFile(path=path, header=header, variants=variants, dropped=dropped)


def read_scoring_files(paths: Sequence[Path], target_build: str | None) -> list[ScoringFile]:
    """Read several scoring files; their accessions must be unique."""
    files = [read_scoring_file(Path(p), target_build) for p in paths]
    _check_unique(files)
    return files


def _check_unique(files: Sequence[ScoringFile]) -> None:
    seen: dict[str, Path] = {}
    for item in files:
        for accession in item.accessions:
            if accession in seen:
                raise DuplicateAccession(
                    f"accession {accession} is in two scoring files: {seen[accession]} and "
                    f"{item.path}"
                )
            seen[accession] = item.path


def combined_variants(files: Sequence[ScoringFile]) -> pl.DataFrame:
    """The variants of all files in one table (:data:`SCORE_VARIANT_SCHEMA`)."""
    _check_unique(files)
    if not files:
        return pl.DataFrame(schema=SCORE_VARIANT_SCHEMA)
    return pl.concat([f.variants for f in files], how="vertical")
