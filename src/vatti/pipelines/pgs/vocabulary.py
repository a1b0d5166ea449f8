"""The words of the polygenic score calculator, each defined once: genome builds, target
formats (with their file suffixes), chromosome names, effect types and match types.

Each is an enum with a parser that takes the spellings users and files give and says what is
wrong with the others (:class:`ValueError`, which pydantic and typer turn into their own errors).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TypeVar

_Word = TypeVar("_Word", bound=enum.StrEnum)


def _by_name(words: type[_Word], text: str, what: str, choices: str) -> _Word:
    """The member of ``words`` named ``text`` in any case, or a ValueError listing ``choices``."""
    try:
        return words(text.strip().lower())
    except ValueError:
        raise ValueError(f"unknown {what} {text.strip()!r} ({choices})") from None


class GenomeBuild(enum.StrEnum):
    """A human reference genome build, in its GRC name (scoring files may also be in the older
    NCBI ones; targets are GRCh37 or GRCh38, :data:`TARGET_BUILDS`)."""

    GRCh37 = "GRCh37"
    GRCh38 = "GRCh38"
    NCBI36 = "NCBI36"
    NCBI35 = "NCBI35"

    @classmethod
    def parse(cls, text: str) -> GenomeBuild | None:
        """A build from its GRC or UCSC name, in any case; ``None`` for not reported (``NR``).

        >>> GenomeBuild.parse("hg19"), GenomeBuild.parse("grch38"), GenomeBuild.parse(" NR ")
        (<GenomeBuild.GRCh37: 'GRCh37'>, <GenomeBuild.GRCh38: 'GRCh38'>, None)
        >>> GenomeBuild.parse("T2T")
        Traceback (most recent call last):
        ValueError: unknown genome build 'T2T' (GRCh37, GRCh38, NCBI36, NCBI35, or hg19, hg38...)
        """
        key = text.strip().lower()
        if key in ("", "nr"):
            return None
        found = _BUILD_NAMES.get(key)
        if found is None:
            raise ValueError(
                f"unknown genome build {text.strip()!r} "
                f"({', '.join(cls)}, or {', '.join(_UCSC_NAMES[:2])}...)"
            )
        return found

    @classmethod
    def target(cls, text: str) -> GenomeBuild:
        """The build of target genomes: GRCh37 or GRCh38 (UCSC names and any case accepted).

        >>> GenomeBuild.target("hg38")
        <GenomeBuild.GRCh38: 'GRCh38'>
        >>> GenomeBuild.target("NCBI36")
        Traceback (most recent call last):
        ValueError: target genomes must be in GRCh37 or GRCh38, not 'NCBI36'
        """
        found = cls.parse(text)
        if found not in TARGET_BUILDS:
            raise ValueError(f"target genomes must be in GRCh37 or GRCh38, not {text.strip()!r}")
        assert found is not None
        return found


#: The builds target genomes may be in (those of the PGS Catalog's harmonized files).
TARGET_BUILDS = (GenomeBuild.GRCh37, GenomeBuild.GRCh38)
_UCSC_NAMES = ("hg19", "hg38", "hg18", "hg17")
_BUILD_NAMES = {b.value.lower(): b for b in GenomeBuild} | {
    name: build for name, build in zip(_UCSC_NAMES, GenomeBuild, strict=True)
}


def suffix_pattern(suffixes: tuple[str, ...]) -> str:
    """A JSON-schema pattern for a name ending in one of ``suffixes``.

    >>> print(suffix_pattern((".pvar.zst", ".pvar")))
    (?:\\.pvar\\.zst|\\.pvar)$
    """
    return "(?:" + "|".join(re.escape(e) for e in suffixes) + ")$"


@dataclass(frozen=True)
class FileSuffixes:
    """The name endings of a target format's three files, the preferred one first."""

    geno: tuple[str, ...]
    variants: tuple[str, ...]
    samples: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        """Every ending, longest first (so ``.pvar.zst`` is tried before ``.pvar``)."""
        return tuple(sorted({*self.geno, *self.variants, *self.samples}, key=len, reverse=True))


class TargetFormat(enum.StrEnum):
    """A target genotype format: PLINK 2 (``pfile``), PLINK 1 (``bfile``) or VCF/BCF (``vcf``),
    the PGS Catalog Calculator's samplesheet names, and BGEN v1.2 (``bgen``: its variants are in
    the ``.bgen``, its samples there or in an Oxford ``.sample``)."""

    PFILE = "pfile"
    BFILE = "bfile"
    VCF = "vcf"
    BGEN = "bgen"

    @classmethod
    def parse(cls, text: str) -> TargetFormat:
        """A format by its samplesheet name, in any case.

        >>> TargetFormat.parse(" PFILE ")
        <TargetFormat.PFILE: 'pfile'>
        >>> TargetFormat.parse("bcf")
        Traceback (most recent call last):
        ValueError: unknown target format 'bcf' (pfile, bfile, vcf or bgen)
        """
        return _by_name(cls, text, "target format", "pfile, bfile, vcf or bgen")

    @property
    def suffixes(self) -> FileSuffixes:
        """The endings of its file names.

        >>> TargetFormat.PFILE.suffixes.variants
        ('.pvar.zst', '.pvar')
        >>> TargetFormat.VCF.suffixes.geno == TargetFormat.VCF.suffixes.samples
        True
        >>> TargetFormat.BGEN.suffixes.samples
        ('.sample', '.bgen')
        """
        return _SUFFIXES[self]

    @property
    def one_file(self) -> bool:
        """Its genotypes, variants and samples are in one file (a VCF/BCF)."""
        return self is TargetFormat.VCF

    @classmethod
    def of_name(cls, name: str) -> tuple[TargetFormat, str] | None:
        """The format a file name ends in, and the name without that ending (a VCF keeps its
        name: it is the file); ``None`` when the name fits no format.

        >>> TargetFormat.of_name("cohort.pvar.zst"), TargetFormat.of_name("cohort.fam")
        ((<TargetFormat.PFILE: 'pfile'>, 'cohort'), (<TargetFormat.BFILE: 'bfile'>, 'cohort'))
        >>> TargetFormat.of_name("chr22.vcf.gz"), TargetFormat.of_name("cohort")
        ((<TargetFormat.VCF: 'vcf'>, 'chr22.vcf.gz'), None)
        >>> TargetFormat.of_name("ukb_chr22.bgen")
        (<TargetFormat.BGEN: 'bgen'>, 'ukb_chr22')
        """
        for fmt in cls:
            for suffix in fmt.suffixes.all:
                if name.endswith(suffix) and len(name) > len(suffix):
                    return fmt, name if fmt.one_file else name[: -len(suffix)]
        return None


_VCF_SUFFIXES = (".vcf.gz", ".bcf", ".vcf")
_SUFFIXES = {
    TargetFormat.PFILE: FileSuffixes((".pgen",), (".pvar.zst", ".pvar"), (".psam",)),
    TargetFormat.BFILE: FileSuffixes((".bed",), (".bim.zst", ".bim"), (".fam",)),
    TargetFormat.VCF: FileSuffixes(_VCF_SUFFIXES, _VCF_SUFFIXES, _VCF_SUFFIXES),
    # the samples: an Oxford .sample beside it, else the ids the .bgen stores
    TargetFormat.BGEN: FileSuffixes((".bgen",), (".bgen",), (".sample", ".bgen")),
}


#: PLINK's numeric codes of the non-autosomes, as plink2 names them when it writes a file
#: (pgsc_calc relabels targets with plink2, so a ``.bim`` chromosome 23 matches X).
PLINK_CHROMOSOME_CODES = {"23": "X", "24": "Y", "25": "XY", "26": "MT"}
#: A ``chr`` prefix, in any case (a regular expression).
CHR_PREFIX = r"(?i)^chr"


def normalise_chrom_name(name: str) -> str:
    """A chromosome name as the matcher compares them: no ``chr`` prefix (any case), PLINK's
    numeric codes named.

    >>> normalise_chrom_name("chr22"), normalise_chrom_name("23"), normalise_chrom_name("chrX")
    ('22', 'X', 'X')
    """
    bare = re.sub(CHR_PREFIX, "", name.strip())
    return PLINK_CHROMOSOME_CODES.get(bare, bare)


class EffectType(enum.StrEnum):
    """How a variant's dosage enters a score (the scoring file's ``is_dominant`` and
    ``is_recessive`` columns; neither: additive)."""

    ADDITIVE = "additive"
    DOMINANT = "dominant"
    RECESSIVE = "recessive"

    @classmethod
    def parse(cls, text: str) -> EffectType:
        """An effect type by its name, in any case.

        >>> EffectType.parse("Dominant")
        <EffectType.DOMINANT: 'dominant'>
        >>> EffectType.parse("multiplicative")
        Traceback (most recent call last):
        ValueError: unknown effect type 'multiplicative' (additive, dominant or recessive)
        """
        return _by_name(cls, text, "effect type", "additive, dominant or recessive")


class MatchType(enum.StrEnum):
    """How a scoring file variant's alleles matched a target variant's, best first: its
    position is its priority (:attr:`priority`), as in pgscatalog-match."""

    REFALT = "refalt"
    ALTREF = "altref"
    REFALT_FLIP = "refalt_flip"
    ALTREF_FLIP = "altref_flip"
    NO_OA_REF = "no_oa_ref"
    NO_OA_ALT = "no_oa_alt"
    NO_OA_REF_FLIP = "no_oa_ref_flip"
    NO_OA_ALT_FLIP = "no_oa_alt_flip"

    @classmethod
    def parse(cls, text: str) -> MatchType:
        """A match type by its name, in any case.

        >>> MatchType.parse("ALTREF_FLIP").priority
        3
        >>> MatchType.parse("flip")
        Traceback (most recent call last):
        ValueError: unknown match type 'flip' (refalt, altref, refalt_flip, ...)
        """
        return _by_name(cls, text, "match type", ", ".join(list(cls)[:3]) + ", ...")

    @property
    def priority(self) -> int:
        """0 for the best type, up to 7."""
        return list(MatchType).index(self)

    @property
    def effect_is_ref(self) -> bool:
        """The score's effect allele (complemented when flipped) is the target's REF.

        >>> [t.value for t in MatchType if t.effect_is_ref]
        ['refalt', 'refalt_flip', 'no_oa_ref', 'no_oa_ref_flip']
        """
        return self.value.removeprefix("no_oa_").startswith("ref")

    @property
    def flipped(self) -> bool:
        """The score's alleles matched once complemented (the other strand)."""
        return self.value.endswith("_flip")

    @property
    def has_other_allele(self) -> bool:
        """The score gave an other allele, and it matched too."""
        return not self.value.startswith("no_oa_")

    @property
    def description(self) -> str:
        """What the type means, for people (the match log's column documentation).

        >>> MatchType.NO_OA_ALT_FLIP.description
        'no other allele in the score; its complemented effect allele = an ALT'
        """
        effect = "REF" if self.effect_is_ref else "an ALT"
        allele = "complemented effect allele" if self.flipped else "effect allele"
        if not self.has_other_allele:
            return f"no other allele in the score; its {allele} = {effect}"
        other = "ALT" if self.effect_is_ref else "REF"
        text = f"effect allele = {effect.removeprefix('an ')}, other allele = {other}"
        return text + (" after complementing both (other strand)" if self.flipped else "")
