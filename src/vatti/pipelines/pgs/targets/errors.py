"""Errors raised while reading target genotypes or scoring them."""

from __future__ import annotations

from vatti.pipelines.errors import PipelineError


class TargetError(PipelineError):
    """Root of the errors about target genotype files."""

    code = "pgs_target_error"
    exit_code = 65  # EX_DATAERR


class TargetFileMissing(TargetError):
    """A genotype, variant or sample file of a target is absent."""

    code = "pgs_target_missing"
    exit_code = 66  # EX_NOINPUT


class TargetFormatError(TargetError):
    """A target file cannot be parsed as the format it claims to be."""

    code = "pgs_target_format"


class SamplesMismatch(TargetError):
    """The files of one sampleset do not hold the same samples in the same order."""

    code = "pgs_samples_mismatch"


class ScoringInputError(TargetError):
    """The matched variants given to the scoring engine do not fit the targets."""

    code = "pgs_scoring_input"
