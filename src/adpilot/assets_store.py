"""The local-folder asset store: ``<root>/sha256/ab/cd/<hex>``, one file per distinct content.

Content addressing makes writes idempotent (the same bytes always land on the same path, so a second
``put`` finds the file and returns) and lets several processes share the folder without locks: a file is
written under a temporary name in its final directory, flushed to disk, then renamed into place, so a
reader never sees half a file. An S3-compatible store implements :class:`adpilot.ports.assets.AssetStore`
the same way (key ``sha256/ab/cd/<hex>``, conditional put).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from adpilot.ports.assets import AssetError, AssetNotFound

_ID = re.compile(r"sha256:([0-9a-f]{64})")


def _hex(asset_id: str) -> str:
    m = _ID.fullmatch(asset_id)
    if m is None:
        raise AssetError(f"asset id {asset_id!r} is not 'sha256:<64 hex digits>'")
    return m.group(1)


class LocalAssetStore:
    """Asset bytes under ``root`` (by default ``<data_dir>/assets``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, asset_id: str) -> Path:
        h = _hex(asset_id)
        return self.root / "sha256" / h[:2] / h[2:4] / h

    def uri(self, asset_id: str) -> str:
        return str(self.path_for(asset_id))

    def exists(self, asset_id: str) -> bool:
        return self.path_for(asset_id).is_file()

    def put(self, data: bytes) -> str:
        asset_id = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.path_for(asset_id)
        if path.is_file():
            return asset_id
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.name[:8])
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)  # a concurrent writer of the same bytes wrote the same file
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise AssetError(f"cannot store {asset_id} under {self.root}: {exc}") from exc
        return asset_id

    def get(self, asset_id: str) -> bytes:
        path = self.path_for(asset_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise AssetNotFound(f"asset {asset_id} is not in the store ({self.root})") from None
        except OSError as exc:
            raise AssetError(f"cannot read {asset_id} from {path}: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != _hex(asset_id):
            raise AssetError(f"asset {asset_id} at {path} is corrupt: its bytes no longer match the id")
        return data
