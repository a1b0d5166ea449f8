"""The ``pgs`` pipeline declares hattivatti's collection files (``globus_details``) as inputs,
by the names ``target_genomes`` gives them once decrypted."""

from __future__ import annotations

from typing import Any

import pytest

from vatti.domain.inputs import DeclaredInput, KeyRef
from vatti.pipelines.base import RegisteredPipeline
from vatti.pipelines.errors import InvalidParams
from vatti.pipelines.pgs.params import PgsParams
from vatti.pipelines.pgs.pipeline import PgsPipeline, declared_inputs

pytestmark = pytest.mark.unit

SECRET_ID = "81D5C400-21B4-4E88-8208-8D64C9920283"


def params(**extra: Any) -> dict[str, Any]:
    return {
        "target_genomes": [
            {
                "sampleset": "test",
                "geno": "hapnest.pgen",
                "pheno": "hapnest.psam",
                "variants": "hapnest.pvar",
                "format": "pfile",
            }
        ],
        "scorefiles": ["scores/local.txt"],
        "target_build": "GRCh38",
        **extra,
    }


def parse(body: dict[str, Any]) -> PgsParams:
    parsed = RegisteredPipeline(PgsPipeline()).parse(body)
    assert isinstance(parsed, PgsParams)
    return parsed


def test_collection_files_are_declared_by_their_decrypted_names() -> None:
    body = params(
        globus_details={
            "dir_path_on_guest_collection": "bwingfield@ebi.ac.uk/hapnestgcp/",
            "files": [
                {"filename": "hapnest.pgen.c4gh", "size": 278705850},
                {"filename": "hapnest.psam.c4gh", "size": 8517},
                {"filename": "hapnest.pvar.c4gh", "size": 214912210},
            ],
        },
        secret_key_details={"secret_id": SECRET_ID, "secret_id_version": "1"},
    )
    declared = {d.key: d for d in declared_inputs(parse(body))}
    assert declared["scores/local.txt"] == DeclaredInput("scores/local.txt", "scores/local.txt")
    pgen = declared["hapnest.pgen"]
    assert pgen == DeclaredInput(
        "hapnest.pgen",
        "bwingfield@ebi.ac.uk/hapnestgcp/hapnest.pgen.c4gh",
        size=278705850,
        from_collection=True,
        key_ref=KeyRef(SECRET_ID, "1"),
    )
    assert pgen.is_encrypted
    assert pgen.staged_name == "hapnest.pgen"
    assert set(declared) == {"scores/local.txt", "hapnest.pgen", "hapnest.psam", "hapnest.pvar"}


@pytest.mark.parametrize(
    ("details", "field"),
    [
        (
            {"dir_path_on_guest_collection": "a/../b", "files": [{"filename": "x", "size": 1}]},
            "params.globus_details.dir_path_on_guest_collection",
        ),
        (
            {"dir_path_on_guest_collection": "a", "files": [{"filename": "..", "size": 1}]},
            "params.globus_details.files.0.filename",
        ),
        (
            {"dir_path_on_guest_collection": "a", "files": [{"filename": "x", "size": 0}]},
            "params.globus_details.files.0.size",
        ),
    ],
)
def test_collection_paths_cannot_escape(details: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParams) as info:
        parse(params(globus_details=details))
    assert [e["field"] for e in info.value.errors] == [field]


def test_target_genomes_name_the_decrypted_file() -> None:
    body = params()
    body["target_genomes"][0]["geno"] = "hapnest.pgen.c4gh"
    with pytest.raises(InvalidParams, match="decrypted name"):
        parse(body)
