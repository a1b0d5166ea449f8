"""hattivatti's job message as a vatti job request (pure: no I/O).

hattivatti's backend sends ``{"pipeline_param": {...}, "globus_details": {...},
"secret_key_details": {...}}``: the PGS Catalog Calculator's parameters, and *beside* them where
the genotypes are on the transfer collection and which key handler secret opens them. vatti's
own request is ``{"pipeline": "pgs", "client_id": ..., "params": {...}}``, its ``pgs`` params
holding the collection files and the key reference too (they are declared inputs of the job).
:func:`job_request_data` turns the first into the second, for every edge that receives
hattivatti's messages (the HTTP API, the Kafka intake): ``pipeline`` is ``pgs``, the
``client_id`` is hattivatti's run id (``pipeline_param.id``, so a message sent twice is refused
as a duplicate), and the files of ``globus_details`` (``x.pgen.c4gh``) become the inputs the
target genomes name by their decrypted names (``x.pgen``). :func:`message_field` names a field
of the translated request as the message spells it, for error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the key that tells a hattivatti message from a vatti request
PIPELINE_PARAM = "pipeline_param"
#: the parts of a message that sit beside ``pipeline_param`` (and move into the params)
BESIDE = ("globus_details", "secret_key_details")
PIPELINE = "pgs"


class MessageShapeError(ValueError):
    """The message is not in hattivatti's shape; ``details`` name each bad field."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))
        self.details = details


def is_message(data: object) -> bool:
    """Whether ``data`` is (meant as) a hattivatti message rather than a vatti request.

    >>> is_message({"pipeline_param": {}}), is_message({"pipeline": "pgs", "params": {}})
    (True, False)
    """
    return isinstance(data, Mapping) and PIPELINE_PARAM in data


def job_request_data(message: Mapping[str, Any]) -> dict[str, Any]:
    """The vatti job request (as JSON data) of the hattivatti message ``message``.

    >>> job_request_data({
    ...     "pipeline_param": {"id": "INTP01", "target_genomes": []},
    ...     "globus_details": {"dir_path_on_guest_collection": "u/run", "files": []},
    ... })  # doctest: +NORMALIZE_WHITESPACE
    {'pipeline': 'pgs', 'client_id': 'INTP01', 'params': {'id': 'INTP01',
     'target_genomes': [], 'globus_details': {'dir_path_on_guest_collection': 'u/run',
     'files': []}}}
    >>> job_request_data({"pipeline_param": {"globus_details": {}}, "extra": 1})
    Traceback (most recent call last):
    ...
    vatti.domain.hattivatti.MessageShapeError: extra: not part of hattivatti's message (it has \
pipeline_param, globus_details and secret_key_details); pipeline_param.globus_details: give \
globus_details beside pipeline_param, not inside it
    """
    details = [
        {
            "field": str(name),
            "message": "not part of hattivatti's message (it has pipeline_param, "
            "globus_details and secret_key_details)",
        }
        for name in message
        if name != PIPELINE_PARAM and name not in BESIDE
    ]
    pipeline_param = message[PIPELINE_PARAM]
    if not isinstance(pipeline_param, Mapping):
        details.append({"field": PIPELINE_PARAM, "message": "must be an object (the params)"})
        raise MessageShapeError(details)
    params = dict(pipeline_param)
    for name in BESIDE:
        if name in params:
            details.append(
                {
                    "field": f"{PIPELINE_PARAM}.{name}",
                    "message": f"give {name} beside {PIPELINE_PARAM}, not inside it",
                }
            )
        if name in message:
            params[name] = message[name]
    if details:
        raise MessageShapeError(details)
    request: dict[str, Any] = {"pipeline": PIPELINE}
    run_id = params.get("id")
    if isinstance(run_id, str):
        request["client_id"] = run_id
    request["params"] = params
    return request


def message_field(field: str) -> str:
    """The field of a hattivatti message that ``field`` of its job request came from.

    >>> message_field("params.globus_details.files.0.size")
    'globus_details.files.0.size'
    >>> message_field("params.target_genomes.0.geno"), message_field("client_id")
    ('pipeline_param.target_genomes.0.geno', 'pipeline_param.id')
    >>> message_field("params")
    'pipeline_param'
    """
    head, _, rest = field.partition(".")
    if head == "client_id":
        return f"{PIPELINE_PARAM}.id"
    if head != "params":
        return field
    if rest.partition(".")[0] in BESIDE:
        return rest
    return f"{PIPELINE_PARAM}.{rest}" if rest else PIPELINE_PARAM
