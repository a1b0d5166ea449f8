"""How staging a job's inputs fails: one stable code per cause, all failures of step ``inputs``.

Messages name the input (its location as declared, or a URL without credentials) and the cause,
never a token, password or key.
"""

from __future__ import annotations

from enum import StrEnum

from vatti.pipelines.errors import StepFailed

STEP = "inputs"


class InputCode(StrEnum):
    #: a location this runtime does not read (outside the input root, another host, a scheme)
    REFUSED = "input_refused"
    #: no file at the location (a local path, or 404 from the collection)
    MISSING = "input_missing"
    #: the bytes differ from the declared size (larger or smaller) or SHA-256
    MISMATCH = "input_mismatch"
    #: the collection could not be reached (connection, time-outs, 5xx), after the retries
    UNREACHABLE = "input_unreachable"
    #: the collection refused the bearer token (401/403, also after a fresh token)
    UNAUTHORIZED = "input_unauthorized"
    #: the OAuth2 token endpoint refused the client credentials (or gave no token)
    TOKEN_REFUSED = "transfer_token_refused"  # noqa: S105 (a code, not a password)
    #: the scratch has no room for the declared inputs (or ran out while staging)
    SCRATCH_FULL = "scratch_full"
    #: no secret key is configured for an encrypted input
    KEY_UNAVAILABLE = "key_unavailable"
    #: the key handler refused its credentials (401/403)
    KEY_UNAUTHORIZED = "key_unauthorized"
    #: the key handler has no such secret id or version (404)
    KEY_NOT_FOUND = "key_not_found"
    #: the key handler failed (5xx, unreachable, an answer without a private key)
    KEY_HANDLER_FAILED = "key_handler_failed"
    #: the private key could not be unwrapped (wrong password) or is not a crypt4gh key
    KEY_INVALID = "key_invalid"
    #: the file is crypt4gh, but no header packet opens with this key
    WRONG_KEY = "decrypt_wrong_key"
    #: not a crypt4gh file, or corrupted or truncated (a segment fails authentication)
    CORRUPT = "input_corrupt"


def input_failed(code: InputCode, message: str) -> StepFailed:
    """The job's failure of step ``inputs`` with ``code``."""
    return StepFailed(STEP, message, code=code.value)
