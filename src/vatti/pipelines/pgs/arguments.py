"""What ``vatti pgs score``'s arguments name, in the spellings pgsc_calc and plink2 users type:
lists after one option (``--scores A B``), comma lists, folders and globs of scoring files,
Catalog ids in any case, genotype files by any of their names.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vatti.pipelines.errors import PipelineError
from vatti.pipelines.pgs.catalog import parse_catalog_id
from vatti.pipelines.pgs.targets.base import GenotypeFile
from vatti.pipelines.pgs.vocabulary import TargetFormat

#: The name endings of the scoring files a folder holds.
SCORING_FILE_ENDINGS = (".txt", ".txt.gz", ".tsv", ".tsv.gz")
_GLOB_CHARACTERS = frozenset("*?[")


class ArgumentError(PipelineError):
    """An argument names nothing usable (no such file, not an id)."""

    code = "pgs_argument_invalid"
    exit_code = 2  # a usage error


def spread_values(args: Sequence[str], options: Iterable[str]) -> list[str]:
    """``args`` with each value that follows a value of one of ``options`` given its own
    option, so ``--scores A B`` reads as ``--scores A --scores B`` (the values run to the next
    option, or ``--``).

    >>> spread_values(["--scores", "a", "b", "--out", "o", "-s=c", "d"], {"--scores", "-s"})
    ['--scores', 'a', '--scores', 'b', '--out', 'o', '-s=c', '-s', 'd']
    >>> spread_values(["--scores", "a", "--", "b"], {"--scores"})
    ['--scores', 'a', '--', 'b']
    """
    listed = frozenset(options)
    out: list[str] = []
    current: str | None = None  # the list option whose values are being read
    own_value = False  # the next word is the option's own value
    for number, arg in enumerate(args):
        if arg == "--":
            return out + list(args[number:])
        if arg.startswith("-") and len(arg) > 1:
            name, equals, _ = arg.partition("=")
            current = name if name in listed else None
            own_value = current is not None and not equals
            out.append(arg)
        elif current is not None and not own_value:
            out += [current, arg]
        else:
            own_value = False
            out.append(arg)
    return out


def split_list(value: str) -> list[str]:
    """A comma list's items (a value naming an existing path is one item, commas and all).

    >>> split_list("PGS001229,pgs000802, PGS000001"), split_list("a.txt")
    (['PGS001229', 'pgs000802', 'PGS000001'], ['a.txt'])
    """
    if Path(value).exists():
        return [value]
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass
class ScoreSources:
    """Scoring files and Catalog ids, each once, in the order given."""

    files: list[Path] = field(default_factory=list)
    pgs_ids: list[str] = field(default_factory=list)
    pgp_ids: list[str] = field(default_factory=list)
    trait_efos: list[str] = field(default_factory=list)

    @property
    def ids(self) -> bool:
        return bool(self.pgs_ids or self.pgp_ids or self.trait_efos)

    def add_id(self, kind: str, value: str, option: str) -> None:
        parsed = parse_catalog_id(value)
        if parsed is None or kind not in ("any", parsed.kind):
            what = "a PGS Catalog id" if kind == "any" else f"a {kind.removesuffix('_id')} id"
            raise ArgumentError(f"{option}: {value!r} is not {what} (nor a scoring file)")
        listed = {"pgs_id": self.pgs_ids, "pgp_id": self.pgp_ids, "trait_efo": self.trait_efos}
        ids = listed[parsed.kind]
        if parsed.id not in ids:
            ids.append(parsed.id)

    def add_file(self, path: Path) -> None:
        if path not in self.files:
            self.files.append(path)


def folder_scoring_files(folder: Path) -> list[Path]:
    """The scoring files of a folder (:data:`SCORING_FILE_ENDINGS`, not hidden), by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name.endswith(SCORING_FILE_ENDINGS) and not p.name.startswith(".")
    )


def score_sources(scores: Sequence[str], ids: Mapping[str, Sequence[str]]) -> ScoreSources:
    """What ``--scores`` values (files, folders, globs, Catalog ids, comma lists of them) and
    the id options (``ids``: ``pgs_id``, ``pgp_id``, ``trait_efo`` to their values) name."""
    sources = ScoreSources()
    for value in scores:
        for item in split_list(value):
            path = Path(item).expanduser()
            if path.is_dir():
                found = folder_scoring_files(path)
                if not found:
                    raise ArgumentError(f"--scores: the folder {item} holds no scoring file")
                for file in found:
                    sources.add_file(file)
            elif path.exists():
                sources.add_file(path)
            elif _GLOB_CHARACTERS & set(item):
                matched = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
                if not matched:
                    raise ArgumentError(f"--scores: no file matches {item}")
                for file in matched:
                    sources.add_file(file)
            elif parse_catalog_id(item) is not None:
                sources.add_id("any", item, "--scores")
            else:
                raise ArgumentError(f"--scores: {item}: no such scoring file, nor a Catalog id")
    for kind, values in ids.items():
        for value in values:
            for item in split_list(value):
                sources.add_id(kind, item, f"--{kind}")
    return sources


def target_file(value: str) -> GenotypeFile:
    """A genotype file set from a path: a VCF/BCF file, a PLINK 2 / PLINK 1 / BGEN file by any
    of its names, or their prefix (a BGEN's samples: the ``.sample`` beside it, when there is
    one)."""
    path = Path(value).expanduser()
    found = TargetFormat.of_name(path.name)
    if found is not None:
        fmt, name = found
        prefix = path.with_name(name)
    elif Path(f"{path}.pgen").exists():
        fmt, prefix = TargetFormat.PFILE, path
    elif Path(f"{path}.bed").exists():
        fmt, prefix = TargetFormat.BFILE, path
    elif Path(f"{path}.bgen").exists():
        fmt, prefix = TargetFormat.BGEN, path
    else:
        raise ArgumentError(
            f"--target: {value}: no VCF/BCF file, nor {path}.pgen, {path}.bed or {path}.bgen"
        )
    file = GenotypeFile.from_prefix(fmt, prefix)
    file.check_exists()
    return file
