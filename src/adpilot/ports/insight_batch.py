"""A columnar batch of daily insights (Arrow), the bulk path into every warehouse engine.

Domain rows (:class:`DailyInsight`) are convenient; a million of them are slow. Syncs and benchmarks
build batches column by column (:class:`InsightColumns` gathers an adapter's report pages); both ways end
in the same validated Arrow table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DailyInsight, DateWindow, InsightWindow
from adpilot.domain.money import known_currencies
from adpilot.errors import InvalidRows

CONVERSIONS_TYPE = pa.decimal128(18, 6)

INSIGHT_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("ad_set_id", pa.string(), nullable=False),
        pa.field("ad_id", pa.string(), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("impressions", pa.int64(), nullable=False),
        pa.field("clicks", pa.int64(), nullable=False),
        pa.field("spend_minor", pa.int64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("conversions", CONVERSIONS_TYPE, nullable=False),
        pa.field("conversion_value_minor", pa.int64(), nullable=False),
        pa.field("attribution_setting", pa.string(), nullable=False),
    ]
)
INSIGHT_COLUMNS: tuple[str, ...] = tuple(INSIGHT_SCHEMA.names)


@dataclass(frozen=True)
class InsightBatch:
    """Validated insight rows for exactly one :class:`InsightWindow`."""

    window: InsightWindow
    table: pa.Table

    def __len__(self) -> int:
        return int(self.table.num_rows)

    @classmethod
    def from_insights(cls, window: InsightWindow, rows: Sequence[DailyInsight]) -> InsightBatch:
        cols: dict[str, list[Any]] = {name: [] for name in INSIGHT_COLUMNS}
        for r in rows:
            cols["platform"].append(str(r.platform))
            cols["account_id"].append(r.account_id)
            cols["campaign_id"].append(r.campaign_id)
            cols["ad_set_id"].append(r.ad_set_id)
            cols["ad_id"].append(r.ad_id)
            cols["day"].append(r.day)
            cols["impressions"].append(r.impressions)
            cols["clicks"].append(r.clicks)
            cols["spend_minor"].append(r.spend.minor)
            cols["currency"].append(r.spend.currency)
            cols["conversions"].append(r.conversions)
            cols["conversion_value_minor"].append(r.conversion_value.minor)
            cols["attribution_setting"].append(r.attribution_setting)
        return cls.from_columns(window, cols)

    @classmethod
    def from_columns(cls, window: InsightWindow, columns: Mapping[str, Any]) -> InsightBatch:
        """Build from column arrays (lists, numpy arrays or Arrow arrays), validating everything."""
        return cls._from_columns(window, columns, unique_pairs=False)

    @classmethod
    def _from_columns(cls, window: InsightWindow, columns: Mapping[str, Any], *, unique_pairs: bool) -> InsightBatch:
        """``unique_pairs``: the caller built one row per (ad, day) by construction; that check is skipped."""
        missing = [c for c in INSIGHT_COLUMNS if c not in columns]
        extra = [c for c in columns if c not in INSIGHT_SCHEMA.names]
        if missing or extra:
            raise InvalidRows(f"columns: missing {missing}, unexpected {extra}")
        arrays = []
        for spec in INSIGHT_SCHEMA:
            values = columns[spec.name]
            try:
                # Infer first, then cast safely: pa.array(floats, type=int64) would truncate 12.34 to 12.
                arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
                if arr.type != spec.type:
                    if _kind(arr.type) not in (_kind(spec.type), "null"):
                        raise InvalidRows(f"{spec.name}: expected {spec.type} values, got {arr.type}")
                    arr = arr.cast(spec.type, safe=True)
                arrays.append(arr)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError,
                    OverflowError) as exc:  # fmt: skip
                raise InvalidRows(f"{spec.name}: {exc}") from None
        table = pa.Table.from_arrays(arrays, schema=INSIGHT_SCHEMA.with_metadata(None))
        _validate(window, table, duplicates=not unique_pairs)
        return cls(window, table)


_EPOCH = date(1970, 1, 1).toordinal()


@dataclass
class InsightColumns:
    """Daily rows of one account gathered as columns, page after page, on their way to an :class:`InsightBatch`.

    An adapter maps each report page straight to columns (days as ``date.toordinal()``, money in minor units
    of the account currency) and adds them here; :meth:`batch` keeps one row per (ad, day): the latest values
    at the place the pair first appeared, as a dict keyed by (ad, day) would, since a page served twice
    collapses onto itself.
    """

    platform: Platform
    account_id: str
    currency: str
    campaign_id: list[str] = field(default_factory=list)
    ad_set_id: list[str] = field(default_factory=list)
    ad_id: list[str] = field(default_factory=list)
    day: list[int] = field(default_factory=list)
    impressions: list[int] = field(default_factory=list)
    clicks: list[int] = field(default_factory=list)
    spend_minor: list[int] = field(default_factory=list)
    conversions: list[int | Decimal] = field(default_factory=list)
    conversion_value_minor: list[int] = field(default_factory=list)
    attribution_setting: list[str] = field(default_factory=list)

    ROW_FIELDS: ClassVar[tuple[str, ...]] = (
        "campaign_id", "ad_set_id", "ad_id", "day", "impressions", "clicks", "spend_minor", "conversions",
        "conversion_value_minor", "attribution_setting",
    )  # fmt: skip

    def __len__(self) -> int:
        return len(self.ad_id)

    def extend(self, other: InsightColumns) -> None:
        for name in self.ROW_FIELDS:
            getattr(self, name).extend(getattr(other, name))

    def add_insights(self, rows: Iterable[DailyInsight]) -> None:
        """Rows mapped one by one (the path for pages the column mappers leave to the row mappers)."""
        for r in rows:
            self.campaign_id.append(r.campaign_id)
            self.ad_set_id.append(r.ad_set_id)
            self.ad_id.append(r.ad_id)
            self.day.append(r.day.toordinal())
            self.impressions.append(r.impressions)
            self.clicks.append(r.clicks)
            self.spend_minor.append(r.spend.minor)
            self.conversions.append(r.conversions)
            self.conversion_value_minor.append(r.conversion_value.minor)
            self.attribution_setting.append(r.attribution_setting)

    def first_outside(self, window: DateWindow) -> date | None:
        """The first day (in row order) that falls outside ``window``, if any."""
        lo, hi = window.start.toordinal(), window.end.toordinal()
        if not self.day or (lo <= min(self.day) and max(self.day) <= hi):
            return None
        return date.fromordinal(next(d for d in self.day if not lo <= d <= hi))

    def batch(self, window: InsightWindow) -> InsightBatch:
        """The validated batch: one row per (ad, day), the latest values at the pair's first place."""
        whole = self._batch(window, None)
        if _duplicate_pairs(whole.table).num_rows == 0:  # the usual case: every pair came once
            return whole
        latest = dict(zip(zip(self.ad_id, self.day, strict=True), range(len(self)), strict=True))
        return self._batch(window, list(latest.values()))

    def _batch(self, window: InsightWindow, keep: list[int] | None) -> InsightBatch:
        """The rows at ``keep`` (all when None), validated but for duplicate pairs, which ``batch`` handles."""

        def pick(values: list[Any]) -> list[Any]:
            return values if keep is None else [values[i] for i in keep]

        size = len(self) if keep is None else len(keep)
        conversions = pick(self.conversions)
        conv: Any
        if set(map(type, conversions)) <= {int}:  # whole counts: straight into the decimal column
            try:
                conv = pa.array(conversions, CONVERSIONS_TYPE)
            except (pa.ArrowInvalid, OverflowError) as exc:
                raise InvalidRows(f"conversions: {exc}") from None
        else:  # exact decimals, as the row path has them
            conv = [c if isinstance(c, Decimal) else Decimal(c) for c in conversions]
        days = np.array(pick(self.day), dtype=np.int64) - _EPOCH
        columns: dict[str, Any] = {
            "platform": pa.repeat(pa.scalar(str(self.platform)), size),
            "account_id": pa.repeat(pa.scalar(self.account_id), size),
            "campaign_id": pick(self.campaign_id),
            "ad_set_id": pick(self.ad_set_id),
            "ad_id": pick(self.ad_id),
            "day": pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32()),
            "impressions": pick(self.impressions),
            "clicks": pick(self.clicks),
            "spend_minor": pick(self.spend_minor),
            "currency": pa.repeat(pa.scalar(self.currency), size),
            "conversions": conv,
            "conversion_value_minor": pick(self.conversion_value_minor),
            "attribution_setting": pick(self.attribution_setting),
        }
        return InsightBatch._from_columns(window, columns, unique_pairs=True)


def _duplicate_pairs(table: pa.Table) -> pa.Table:
    """The (ad, day) pairs that occur more than once, with their counts."""
    counts = table.group_by(["ad_id", "day"]).aggregate([([], "count_all")])
    return counts.filter(pc.greater(counts.column("count_all"), 1))


def _kind(t: pa.DataType) -> str:
    """The family of a type: values may be cast within a family, never across (no "10" -> 10)."""
    for kind, test in (
        ("integer", pa.types.is_integer),
        ("decimal", pa.types.is_decimal),
        ("date", pa.types.is_date),
        ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("null", pa.types.is_null),
    ):
        if test(t):
            return kind
    return str(t)


def _fail(column: str, table: pa.Table, mask: pa.ChunkedArray, why: str) -> None:
    bad = table.filter(mask).slice(0, 1).to_pylist()
    n = pc.sum(mask.cast(pa.int64())).as_py()
    example = {k: bad[0][k] for k in ("ad_id", "day", column)} if bad else {}
    raise InvalidRows(f"{column}: {n} row(s) {why}; first: {example}")


def _validate(window: InsightWindow, table: pa.Table, *, duplicates: bool = True) -> None:
    for name in INSIGHT_COLUMNS:
        col = table.column(name)
        if col.null_count:
            _fail(name, table, col.is_null(), "are null")
    for name in ("account_id", "campaign_id", "ad_set_id", "ad_id", "currency"):
        mask = pc.equal(pc.utf8_length(table.column(name)), 0)
        if pc.any(mask).as_py():
            _fail(name, table, mask, "are empty")
    for name in ("impressions", "clicks", "spend_minor", "conversion_value_minor"):
        mask = pc.less(table.column(name), 0)
        if pc.any(mask).as_py():
            _fail(name, table, mask, "are negative")
    mask = pc.less(table.column("conversions"), pa.scalar(Decimal(0), CONVERSIONS_TYPE))
    if pc.any(mask).as_py():
        _fail("conversions", table, mask, "are negative")
    mask = pc.not_equal(table.column("platform"), str(window.platform))
    if pc.any(mask).as_py():
        _fail("platform", table, mask, f"are not {window.platform}")
    mask = pc.not_equal(table.column("account_id"), window.account_id)
    if pc.any(mask).as_py():
        _fail("account_id", table, mask, f"are not account {window.account_id}")
    day = table.column("day")
    mask = pc.or_(
        pc.less(day, pa.scalar(window.window.start, pa.date32())),
        pc.greater(day, pa.scalar(window.window.end, pa.date32())),
    )
    if pc.any(mask).as_py():
        _fail("day", table, mask, f"fall outside {window.window.start}..{window.window.end}")
    currencies = pc.unique(table.column("currency")).to_pylist()
    unknown = sorted(set(currencies) - known_currencies())
    if unknown:
        raise InvalidRows(f"currency: unknown ISO 4217 code(s) {unknown}")
    if len(currencies) > 1:
        raise InvalidRows(f"currency: one account reports in one currency, got {sorted(currencies)}")
    if duplicates and table.num_rows:
        dup = _duplicate_pairs(table)
        if dup.num_rows:
            first = dup.slice(0, 1).to_pylist()[0]
            raise InvalidRows(
                f"ad_id/day: {dup.num_rows} duplicate (ad, day) pair(s); first: {first['ad_id']} {first['day']}"
            )
