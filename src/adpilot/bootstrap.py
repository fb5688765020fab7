"""The composition root: the only place that picks concrete engines and adapters."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adpilot.accounts import AccountStore
from adpilot.assets_store import LocalAssetStore
from adpilot.config import Settings
from adpilot.lake import Lake
from adpilot.ports.lake import PageMapper
from adpilot.secrets import SecretBox
from adpilot.services import MapperKey
from adpilot.warehouse._sql import SqlWarehouse
from adpilot.warehouse.factory import open_warehouse

if TYPE_CHECKING:
    from adpilot.creative.library import AssetLibrary


@dataclass
class Container:
    """What entry points need, built lazily from settings so ``--help`` touches nothing."""

    settings: Settings
    _warehouse: SqlWarehouse | None = field(default=None, init=False, repr=False)

    @property
    def warehouse(self) -> SqlWarehouse:
        if self._warehouse is None:
            self._warehouse = open_warehouse(self.settings)
        return self._warehouse

    @property
    def lake(self) -> Lake:
        return Lake(self.settings.lake_dir)

    @property
    def asset_store(self) -> LocalAssetStore:
        """Asset bytes, content-addressed under ``<data_dir>/assets`` (an S3-compatible store can replace it)."""
        return LocalAssetStore(self.settings.data_dir / "assets")

    @property
    def asset_library(self) -> AssetLibrary:
        """The asset library; also what the sync engine takes as ``assets=`` to link creatives to assets."""
        from adpilot.creative.library import AssetLibrary

        return AssetLibrary(self.warehouse, self.asset_store)

    @property
    def accounts(self) -> AccountStore:
        return AccountStore(self.warehouse, SecretBox.from_settings(self.settings))

    def page_mappers(self) -> dict[MapperKey, PageMapper]:
        """Raw-page mappers per (platform, stream), from each platform's ``replay`` module."""
        mappers: dict[MapperKey, PageMapper] = {}
        for platform in ("meta", "x", "tiktok"):
            try:
                module = importlib.import_module(f"adpilot.platforms.{platform}.replay")
            except ModuleNotFoundError:
                continue
            for stream in ("entities", "insights"):
                mappers[(platform, stream)] = getattr(module, stream)
        return mappers

    def close(self) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None


def build_container(settings: Settings) -> Container:
    return Container(settings)
