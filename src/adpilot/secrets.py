"""Secrets at rest: a Fernet key from ``ADPILOT_ENCRYPTION_KEY`` or a 0600 key file in the data dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from adpilot.config import Settings
from adpilot.errors import SecretsError


def create_key_file(path: Path) -> bool:
    """Create a new key file readable by its owner only; return False if one already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(Fernet.generate_key())
    return True


class SecretBox:
    """Encrypts and decrypts secrets (platform tokens) with the configured key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SecretsError("encryption key: not a valid Fernet key (32 url-safe base64 bytes)") from None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.encryption_key is not None:
            return cls(settings.encryption_key.get_secret_value().encode())
        path = settings.key_file
        if not path.exists():
            raise SecretsError(f"no encryption key: run `adpilot init` or set ADPILOT_ENCRYPTION_KEY ({path})")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretsError(f"key file {path} is readable by others (mode {mode:o}); chmod 600 it")
        return cls(path.read_bytes().strip())

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretsError("a stored secret cannot be decrypted with this key (was the key replaced?)") from None
