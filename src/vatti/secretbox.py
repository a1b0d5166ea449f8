"""Secrets at rest: what the job database must hold but never in clear text.

A job's own ``webhook_url`` may carry a token in its path or query; the store keeps it sealed
with the service key (``VATTI_SECRET_KEY``), by ``cryptography``'s Fernet (AES-128-CBC with an
HMAC-SHA256, a timestamp and a random IV: the same URL seals differently each time). Rotation:
the setting lists keys newest first; values are sealed with the first and opened with any, and
:meth:`SecretBox.reseal` moves a value to the newest key (``vatti secrets reseal`` does every
row), after which an old key can go.

Sealed values carry :data:`PREFIX`; a value without it was written before sealing existed and is
read as it is (and sealed by a reseal). Without a configured key, the embedded set-up keeps one
in ``DATA_DIR/secret.key`` (mode 0600, made on first use), beside but not in the database.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vatti.errors import ConfigError, VattiError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

PREFIX = "sealed:v1:"
KEY_FILE = "secret.key"


class SecretUnreadable(VattiError):
    """A sealed value that none of the configured keys opens."""

    code = "secret_unreadable"
    exit_code = 78


def new_key() -> str:
    """A fresh service key (what ``VATTI_SECRET_KEY`` holds)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def check_key(key: str) -> None:
    """Raise ValueError when ``key`` is not a service key (the message never repeats it)."""
    from cryptography.fernet import Fernet

    try:
        Fernet(key.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValueError(
            "each key must be 32 bytes in URL-safe base64 (make one with `vatti secrets key`)"
        ) from None


class SecretBox:
    """Seal and open values with the service keys (newest first)."""

    def __init__(self, keys: Sequence[str]) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        if not keys:
            raise ConfigError("a secret box needs at least one key")
        self._fernet: MultiFernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])

    def seal(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, value: str) -> str:
        if not value.startswith(PREFIX):
            return value  # written before values were sealed
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(value.removeprefix(PREFIX).encode("ascii")).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a sealed value opens with none of the keys in VATTI_SECRET_KEY "
                "(was a key removed before `vatti secrets reseal` ran?)"
            ) from None

    def reseal(self, value: str) -> str:
        """``value`` sealed with the newest key (a clear one is sealed)."""
        if not value.startswith(PREFIX):
            return self.seal(value)
        token = self._fernet.rotate(value.removeprefix(PREFIX).encode("ascii"))
        return PREFIX + token.decode("ascii")


def key_file_keys(data_dir: Path) -> list[str]:
    """The embedded set-up's key, from ``DATA_DIR/secret.key``, made (0600) if missing."""
    path = data_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(new_key() + "\n")
    keys = [k for k in path.read_text().split() if k]
    for key in keys:
        try:
            check_key(key)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return keys
