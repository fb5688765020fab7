"""Secrets at rest: key file 0600, environment key, refusal of readable key files and wrong keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from adpilot.config import load_settings
from adpilot.errors import SecretsError
from adpilot.secrets import SecretBox, create_key_file


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "d" / "adpilot.key"
    assert create_key_file(path) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_bytes()
    assert create_key_file(path) is False
    assert path.read_bytes() == key


def test_round_trip_with_key_file() -> None:
    settings = load_settings()
    create_key_file(settings.key_file)
    box = SecretBox.from_settings(settings)
    token = box.encrypt("EAAB-meta-token")
    assert "EAAB" not in token
    assert SecretBox.from_settings(settings).decrypt(token) == "EAAB-meta-token"


def test_environment_key_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADPILOT_ENCRYPTION_KEY", Fernet.generate_key().decode())
    box = SecretBox.from_settings(load_settings())
    assert box.decrypt(box.encrypt("x")) == "x"


def test_missing_key_says_how_to_fix() -> None:
    with pytest.raises(SecretsError, match="adpilot init"):
        SecretBox.from_settings(load_settings())


def test_readable_key_file_is_refused() -> None:
    settings = load_settings()
    create_key_file(settings.key_file)
    settings.key_file.chmod(0o644)
    with pytest.raises(SecretsError, match="readable by others"):
        SecretBox.from_settings(settings)


def test_wrong_key_cannot_decrypt_and_does_not_leak() -> None:
    token = SecretBox(Fernet.generate_key()).encrypt("secret-token")
    with pytest.raises(SecretsError) as info:
        SecretBox(Fernet.generate_key()).decrypt(token)
    assert "secret-token" not in str(info.value)


def test_invalid_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADPILOT_ENCRYPTION_KEY", "too-short")
    with pytest.raises(SecretsError, match="encryption key"):
        SecretBox.from_settings(load_settings())
