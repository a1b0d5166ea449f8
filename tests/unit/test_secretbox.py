"""Sealing secrets at rest: round trip, rotation, legacy clear values, bad keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vatti.errors import ConfigError
from vatti.secretbox import PREFIX, SecretBox, SecretUnreadable, check_key, key_file_keys, new_key

pytestmark = pytest.mark.unit

URL = "https://hooks.example.org/t/hooktok-41c9?token=qs-secret"


def test_a_sealed_value_opens_to_itself_and_shows_nothing_of_it() -> None:
    box = SecretBox([new_key()])
    first, second = box.seal(URL), box.seal(URL)
    assert first.startswith(PREFIX)
    assert first != second  # a random IV each time: equal URLs are not seen to be equal
    for sealed in (first, second):
        assert "hooktok" not in sealed
        assert "example.org" not in sealed
        assert box.open(sealed) == URL


def test_rotation_old_keys_open_reseal_moves_to_the_newest() -> None:
    old, new = new_key(), new_key()
    sealed_with_old = SecretBox([old]).seal(URL)
    rotated = SecretBox([new, old])
    assert rotated.open(sealed_with_old) == URL
    resealed = rotated.reseal(sealed_with_old)
    assert SecretBox([new]).open(resealed) == URL  # the old key can go now
    with pytest.raises(SecretUnreadable) as info:
        SecretBox([new]).open(sealed_with_old)
    assert "VATTI_SECRET_KEY" in info.value.message
    assert URL not in info.value.message


def test_a_clear_value_from_before_sealing_is_read_as_is_and_sealed_by_a_reseal() -> None:
    box = SecretBox([new_key()])
    assert box.open(URL) == URL
    assert box.open(box.reseal(URL)) == URL
    assert box.reseal(URL).startswith(PREFIX)


@pytest.mark.parametrize("bad", ["", "short", "x" * 44, "é" * 44])
def test_what_is_not_a_key_is_refused_without_being_repeated(bad: str) -> None:
    with pytest.raises(ValueError, match="URL-safe base64") as info:
        check_key(bad)
    assert not bad or bad not in str(info.value)


def test_the_embedded_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    first = key_file_keys(tmp_path)
    assert key_file_keys(tmp_path) == first
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600
    (tmp_path / "secret.key").write_text("not-a-key\n")
    with pytest.raises(ConfigError, match=r"secret\.key"):
        key_file_keys(tmp_path)
