"""The asset library as a service: add images and copy, find them, show where they run, report how they do.

Bytes go to the :class:`~adpilot.ports.assets.AssetStore`, metadata to the warehouse. Identity follows
:mod:`adpilot.creative.identity`: a file already seen (exactly, or as a re-encoded copy) resolves to its
asset; copy resolves by its normalized text. The sync engine reaches the library through the
:class:`~adpilot.ports.assets.AssetLinker` port (``register_image``, ``link_creatives``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from adpilot.creative import identity, tags
from adpilot.domain.entities import Asset, AssetKind, Creative, asset_id_for_bytes
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DateWindow
from adpilot.domain.money import Money
from adpilot.ports.assets import (
    AssetError,
    AssetRecord,
    AssetStore,
    AssetUsage,
    AssetVersion,
    CreativeLink,
    ImageRefLink,
)
from adpilot.ports.warehouse import Grain, PerformanceQuery, PerformanceRow, Warehouse

Clock = Callable[[], datetime]
_HEX_PREFIX = re.compile(r"(?:sha256:)?([0-9a-f]{1,64})")


@dataclass(frozen=True, slots=True)
class Added:
    """What adding content did: the asset it resolved to, and how (``new``, ``exact``, ``perceptual``)."""

    record: AssetRecord
    match: str
    distance: int = 0


@dataclass(frozen=True)
class AssetView:
    """Everything ``creatives show`` prints about one asset."""

    record: AssetRecord
    uri: str | None
    versions: list[AssetVersion]
    usage: list[AssetUsage]
    parent: AssetRecord | None
    children: list[AssetRecord]


@dataclass(frozen=True)
class ReportRow:
    """One asset (or tag) across platforms, in the reporting currency."""

    key: str | None  # asset id or tag; None for ads whose creative is linked to no asset (or tag)
    name: str
    kind: str
    impressions: int
    clicks: int
    conversions: Decimal
    spend: Money
    conversion_value: Money
    spend_by_platform: dict[str, Money] = field(default_factory=dict)

    @property
    def ctr(self) -> Decimal | None:
        return Decimal(self.clicks) / self.impressions if self.impressions else None

    @property
    def cpa(self) -> Decimal | None:
        return self.spend.to_major() / self.conversions if self.conversions else None

    @property
    def roas(self) -> Decimal | None:
        spend = self.spend.to_major()
        return self.conversion_value.to_major() / spend if spend else None


def _tag_text(tag: str) -> str:
    out = " ".join(tag.split())
    if not out:
        raise AssetError("tag: must not be empty")
    return out


class AssetLibrary:
    """The library over a warehouse and a store. Also the sync engine's :class:`AssetLinker`."""

    def __init__(self, warehouse: Warehouse, store: AssetStore, *, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.warehouse = warehouse
        self.store = store
        self.clock = clock

    # -- adding ----------------------------------------------------------------------------------------------
    def add_image(
        self,
        data: bytes,
        *,
        name: str = "",
        file_name: str = "",
        user_tags: Iterable[str] = (),
        parent_id: str | None = None,
        derivation: str = "",
        source: str = "cli",
    ) -> Added:
        """Store an image and resolve it: the same file or a copy of a known image is that asset (renamed
        when ``name`` is given, with the tags added); anything else becomes a new asset, tagged, named
        ``name`` or else ``file_name``."""
        try:
            ident, img = identity.identify(data)
        except identity.NotAnImage as exc:
            raise AssetError(f"{name or file_name or 'file'}: {exc}") from None
        extra = tuple(_tag_text(t) for t in user_tags)
        if parent_id is not None and self.warehouse.get_asset(parent_id) is None:
            raise AssetError(f"parent: no asset {parent_id}")
        known = self.warehouse.asset_for_file(ident.asset_id)
        if known is not None and self.warehouse.get_asset(known) is not None:
            return Added(self._touch(known, name, extra), "exact")
        fp = ident.fingerprint
        candidates = [
            (rec.asset_id, identity.ImageFingerprint(rec.phash, rec.grid, rec.asset.width, rec.asset.height))
            for rec, _ in self.warehouse.find_by_phash(fp.phash, identity.PHASH_MAX_DISTANCE)
            if rec.phash is not None and rec.grid is not None and rec.asset.width and rec.asset.height
        ]
        match = identity.best_match(fp, candidates)
        now = self.clock()
        if match is not None:
            self.store.put(data)  # the copy is kept too: it is a version of the asset
            self.warehouse.put_asset_versions(
                [self._version(ident, match.asset_id, "perceptual", match.distance, source, now)]
            )
            return Added(self._touch(match.asset_id, name, extra), "perceptual", match.distance)
        stored = self.store.put(data)
        if stored != ident.asset_id:
            raise AssetError(f"the store answered {stored} for {ident.asset_id}")
        swatches = tags.palette(img)
        record = AssetRecord(
            Asset(ident.asset_id, AssetKind.IMAGE, name or file_name, width=ident.width, height=ident.height),
            tags=tags.image_tags(img, swatches),
            user_tags=extra,
            format=ident.format,
            size_bytes=ident.size_bytes,
            phash=fp.phash,
            grid=fp.grid,
            palette=tuple(f"{s.hex} {s.share:.2f}" for s in swatches),
            parent_id=parent_id,
            derivation=derivation,
            source=source,
            created_at=now,
        )
        self.warehouse.upsert_assets([record], at=now)
        self.warehouse.put_asset_versions([self._version(ident, ident.asset_id, "exact", 0, source, now)])
        return Added(record, "new")

    @staticmethod
    def _version(
        ident: identity.ImageIdentity, asset_id: str, match: str, distance: int, source: str, at: datetime
    ) -> AssetVersion:
        return AssetVersion(
            ident.asset_id,
            asset_id,
            match,
            distance,
            ident.format,
            ident.width,
            ident.height,
            ident.size_bytes,
            source,
            at,
        )

    def _touch(self, asset_id: str, name: str, extra: tuple[str, ...]) -> AssetRecord:
        """An existing asset, renamed and tagged when the caller says so."""
        record = self.warehouse.get_asset(asset_id)
        if record is None:
            raise AssetError(f"asset {asset_id} has a version on record but no metadata")
        new_tags = tuple(t for t in extra if t not in record.user_tags)
        if (name and name != record.asset.name) or new_tags:
            record = replace(
                record,
                asset=replace(record.asset, name=name or record.asset.name),
                user_tags=(*record.user_tags, *new_tags),
            )
            self.warehouse.upsert_assets([record], at=self.clock())
        return record

    def _text_record(
        self, text: str, *, name: str, user_tags: tuple[str, ...], parent_id: str | None, derivation: str, source: str
    ) -> AssetRecord:
        normalized = identity.normalize_text(text)
        if not normalized:
            raise AssetError("text: must not be empty")
        asset_id = self.store.put(normalized.encode("utf-8"))  # the normalized copy is what the id hashes
        if asset_id != identity.text_asset_id(text):
            raise AssetError(f"text: the store answered {asset_id}, not the text's id")
        return AssetRecord(
            Asset(asset_id, AssetKind.TEXT, name, text=" ".join(text.split())),
            tags=tags.text_tags(text),
            user_tags=user_tags,
            size_bytes=len(normalized.encode("utf-8")),
            parent_id=parent_id,
            derivation=derivation,
            source=source,
        )

    def add_text(
        self,
        text: str,
        *,
        name: str = "",
        user_tags: Iterable[str] = (),
        parent_id: str | None = None,
        derivation: str = "",
        source: str = "cli",
    ) -> Added:
        """Copy as an asset; copy that normalizes like a known one is that asset."""
        extra = tuple(_tag_text(t) for t in user_tags)
        asset_id = identity.text_asset_id(text)
        if self.warehouse.get_asset(asset_id) is not None:
            return Added(self._touch(asset_id, name, extra), "exact")
        if parent_id is not None and self.warehouse.get_asset(parent_id) is None:
            raise AssetError(f"parent: no asset {parent_id}")
        now = self.clock()
        record = self._text_record(
            text, name=name, user_tags=extra, parent_id=parent_id, derivation=derivation, source=source
        )
        record = replace(record, created_at=now)
        self.warehouse.upsert_assets([record], at=now)
        return Added(record, "new")

    # -- the sync engine's port -------------------------------------------------------------------------------
    def register_image(self, platform: Platform, account_id: str, ref: str, data: bytes, *, name: str) -> str:
        added = self.add_image(data, file_name=name, source=f"sync:{platform}")
        sha = asset_id_for_bytes(data)
        self.warehouse.put_image_refs(
            [ImageRefLink(platform, account_id, ref, added.record.asset_id, sha)], at=self.clock()
        )
        return added.record.asset_id

    def link_creatives(
        self, creatives: Sequence[Creative], *, at: datetime, image_refs: Mapping[str, str] | None = None
    ) -> int:
        """Each creative's image (its ``asset_id``) and copy become its links; copy becomes text assets.

        ``image_refs`` (creative id → platform image reference) lets an image link say whether the file
        matched exactly or as a copy."""
        refs = dict(image_refs or {})
        by_account: dict[tuple[Platform, str], list[str]] = {}
        for c in creatives:
            if c.creative_id in refs:
                by_account.setdefault((c.platform, c.account_id), []).append(refs[c.creative_id])
        ref_links: dict[tuple[Platform, str, str], ImageRefLink] = {}
        for (platform, account_id), wanted in by_account.items():
            for ref, link in self.warehouse.known_image_refs(platform, account_id, wanted).items():
                ref_links[(platform, account_id, ref)] = link
        texts: dict[str, AssetRecord] = {}
        links: list[CreativeLink] = []
        now = self.clock()
        for c in creatives:
            if c.asset_id:
                ref_link = ref_links.get((c.platform, c.account_id, refs.get(c.creative_id, "")))
                perceptual = ref_link is not None and ref_link.sha256 != ref_link.asset_id
                match = "perceptual" if perceptual else "exact"
                links.append(CreativeLink(c.platform, c.account_id, c.creative_id, "image", c.asset_id, match))
            for role, text in (("headline", c.headline), ("body", c.body), ("cta", c.call_to_action)):
                if not identity.normalize_text(text):
                    continue
                asset_id = identity.text_asset_id(text)
                if asset_id not in texts:
                    record = self._text_record(
                        text, name="", user_tags=(), parent_id=None, derivation="", source=f"sync:{c.platform}"
                    )
                    texts[asset_id] = replace(record, created_at=now)
                links.append(CreativeLink(c.platform, c.account_id, c.creative_id, role, asset_id, "text"))
        if texts:
            self.warehouse.upsert_assets(list(texts.values()), at=at, only_new=True)
        return self.warehouse.set_creative_links([(c.platform, c.creative_id) for c in creatives], links, at=at)

    # -- reading -----------------------------------------------------------------------------------------------
    def resolve(self, id_or_prefix: str) -> AssetRecord:
        """An asset by id or unique prefix (with or without ``sha256:``)."""
        m = _HEX_PREFIX.fullmatch(id_or_prefix.strip().lower())
        if m is None:
            raise AssetError(f"asset: {id_or_prefix!r} is not an asset id or a prefix of one")
        found = self.warehouse.list_assets(id_prefix="sha256:" + m.group(1))
        if not found:
            raise AssetError(f"asset: no asset starts with {id_or_prefix!r}")
        if len(found) > 1:
            raise AssetError(f"asset: {id_or_prefix!r} is ambiguous ({len(found)} assets start with it)")
        return found[0]

    def assets(self, *, kind: AssetKind | None = None, tag: str | None = None) -> list[AssetRecord]:
        return self.warehouse.list_assets(kind=kind, tag=tag)

    def show(self, id_or_prefix: str) -> AssetView:
        record = self.resolve(id_or_prefix)
        parent = self.warehouse.get_asset(record.parent_id) if record.parent_id else None
        return AssetView(
            record,
            self.store.uri(record.asset_id) if self.store.exists(record.asset_id) else None,
            self.warehouse.asset_versions(record.asset_id),
            self.warehouse.asset_usage(record.asset_id),
            parent,
            self.warehouse.list_assets(parent_id=record.asset_id),
        )

    def report(
        self,
        window: DateWindow,
        *,
        reporting_currency: str,
        by: str = "asset",
        kind: AssetKind | None = None,
        platforms: Sequence[Platform] = (),
    ) -> list[ReportRow]:
        """Spend, impressions, clicks, conversions and value per asset (or tag) across platforms, with each
        platform's spend; ads count toward every asset they show, so rows overlap by design."""
        if by not in ("asset", "tag"):
            raise AssetError(f"by: {by!r} is not 'asset' or 'tag'")
        grain = Grain.ASSET if by == "asset" else Grain.TAG
        key = "asset_id" if by == "asset" else "tag"

        def read(only: tuple[Platform, ...]) -> list[PerformanceRow]:
            query = PerformanceQuery(window, grain, by_day=False, platforms=only)
            return self.warehouse.read_performance(query, reporting_currency=reporting_currency)

        totals = read(tuple(platforms))
        per_platform: dict[str | None, dict[str, Money]] = {}
        for p in platforms or tuple(Platform):
            for r in read((p,)):
                if r.impressions or r.spend_reporting.minor:
                    per_platform.setdefault(r.key[key], {})[str(p)] = r.spend_reporting
        records = {r.asset_id: r for r in self.warehouse.list_assets()} if by == "asset" else {}
        out: list[ReportRow] = []
        for r in totals:
            k = r.key[key]
            rec = records.get(k) if k is not None else None
            if kind is not None and (rec is None or rec.asset.kind is not kind):
                continue
            out.append(
                ReportRow(
                    key=k,
                    name=(rec.asset.name or rec.asset.text or "") if rec else "",
                    kind=str(rec.asset.kind) if rec else "",
                    impressions=r.impressions,
                    clicks=r.clicks,
                    conversions=r.conversions,
                    spend=r.spend_reporting,
                    conversion_value=r.conversion_value_reporting,
                    spend_by_platform=per_platform.get(k, {}),
                )
            )
        out.sort(key=lambda row: (-row.spend.minor, -row.impressions, row.key or "~"))
        return out
