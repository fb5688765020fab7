"""Column mappers map a report page exactly as the row mappers do, or leave the page to them.

Every platform's insights path maps pages column by column and falls back to the row mapper (which maps
the page or names the problem) whenever the column mapper does not vouch for it. So, on any page, well-formed
or broken: if the row mapper refuses it, the column mapper must not accept it; if the column mapper accepts
it, its columns must equal the row mapper's rows.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adpilot.domain.entities import AdAccount
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DateWindow, InsightWindow
from adpilot.platforms.meta import mapping as meta
from adpilot.platforms.tiktok import mapping as tiktok
from adpilot.platforms.tiktok import settings as tiktok_settings
from adpilot.platforms.x import mapping as x
from adpilot.ports.insight_batch import InsightColumns

DAY0 = date(2026, 3, 1)
ACCOUNTS = {
    platform: [AdAccount(platform, "100", "Shop", currency, "Europe/Berlin") for currency in ("USD", "JPY", "KWD")]
    for platform in Platform
}
# values a broken page may hold where a field is expected
ODD = [
    None, "", "-", " ", 0, 7, 1.5, True, [], {}, "1.5", "-1", " 12", "12 ", "1e3", "\u0661\u0662", "abc",
    "12.345", "0.005", "007", "2026-02-30", "20260301", "2026-03-01 00:00:00", "USD", "EUR", "9" * 25,
]  # fmt: skip
odd = st.sampled_from(ODD)


def major(minor: int, exp: int) -> str:
    return str(minor) if exp == 0 else f"{minor // 10**exp}.{minor % 10**exp:0{exp}d}"


def columns_of(cols: InsightColumns) -> dict[str, list[Any]]:
    return {name: list(getattr(cols, name)) for name in InsightColumns.ROW_FIELDS}


def same(fast: InsightColumns, rows_way: InsightColumns) -> bool:
    a, b = columns_of(fast), columns_of(rows_way)
    # conversions: whole counts as int in one, as Decimal in the other; equal values either way
    return a == b and all(Decimal(p) == Decimal(q) for p, q in zip(a["conversions"], b["conversions"], strict=True))


figures = st.tuples(
    st.integers(0, 10**7), st.integers(0, 10**4), st.integers(0, 10**9), st.integers(0, 50), st.integers(0, 10**9)
)


# -- Meta --------------------------------------------------------------------------------------------------------
def meta_row(i: int, day: int, f: tuple[int, ...], exp: int, currency: str) -> dict[str, Any]:
    impressions, clicks, spend, conversions, value = f
    d = (DAY0 + timedelta(days=day)).isoformat()
    row: dict[str, Any] = {
        "account_id": "100", "campaign_id": "2001", "adset_id": f"300{i % 3}", "ad_id": f"400{i}",
        "date_start": d, "date_stop": d, "impressions": str(impressions), "clicks": str(clicks),
        "spend": major(spend, exp), "account_currency": currency, "attribution_setting": "7d_click_1d_view",
    }  # fmt: skip
    if conversions:
        for key, v in (("actions", str(conversions)), ("action_values", major(value, exp))):
            row[key] = [
                {"action_type": t, "value": v, "7d_click": v, "1d_view": "0"}
                for t in ("offsite_conversion.fb_pixel_purchase", "purchase")
            ]
    return row


META_KEYS = [*meta_row(0, 0, (1, 1, 1, 1, 1), 2, "USD"), "actions", "action_values"]


@st.composite
def meta_pages(draw: st.DrawFn) -> tuple[list[Any], AdAccount, bool]:
    acc = draw(st.sampled_from(ACCOUNTS[Platform.META]))
    exp = {"USD": 2, "JPY": 0, "KWD": 3}[acc.currency]
    n = draw(st.integers(0, 6))
    page: list[Any] = [meta_row(i, draw(st.integers(0, 3)), draw(figures), exp, acc.currency) for i in range(n)]
    mutated = False
    for _ in range(draw(st.integers(0, 3)) if n else 0):
        mutated = True
        i = draw(st.integers(0, n - 1))
        kind = draw(st.sampled_from(["set", "drop", "entry", "row", "repeat"]))
        if kind == "row":
            page[i] = draw(odd)
        elif kind == "repeat":
            page.append(copy.deepcopy(page[i]))
        elif not isinstance(page[i], dict):
            continue
        elif kind == "drop":
            page[i].pop(draw(st.sampled_from(META_KEYS)), None)
        elif kind == "set":
            page[i][draw(st.sampled_from(META_KEYS))] = draw(odd)
        else:  # an odd action entry, before or instead of the one that counts
            entries = page[i].setdefault(draw(st.sampled_from(["actions", "action_values"])), [])
            if isinstance(entries, list):
                entries.insert(
                    0,
                    draw(
                        st.one_of(
                            odd,
                            st.builds(
                                lambda v: {"action_type": "offsite_conversion.fb_pixel_purchase", "value": v}, odd
                            ),
                            st.just({"action_type": "offsite_conversion.fb_pixel_purchase"}),
                            st.just({"action_type": "purchase", "value": "5"}),
                        )
                    ),
                )
    return page, acc, mutated


def meta_by_rows(page: list[Any], acc: AdAccount) -> InsightColumns | None:
    try:
        rows = [meta.insight(r, acc) for r in page]
    except Exception:
        return None
    cols = InsightColumns(Platform.META, acc.account_id, acc.currency)
    cols.add_insights(rows)
    return cols


@settings(max_examples=400, deadline=None)
@given(meta_pages())
def test_meta_columns_equal_the_row_mapping(case: tuple[list[Any], AdAccount, bool]) -> None:
    page, acc, mutated = case
    fast, by_rows = meta.insight_columns(page, acc), meta_by_rows(page, acc)
    if fast is not None:
        assert by_rows is not None, "the row mapper refuses this page, so the column mapper must too"
        assert same(fast, by_rows)
    elif not mutated:
        raise AssertionError("a plain page must take the column path")


# -- TikTok ------------------------------------------------------------------------------------------------------
def tiktok_row(i: int, day: int, f: tuple[int, ...], exp: int, currency: str) -> dict[str, Any]:
    impressions, clicks, spend, conversions, value = f
    return {
        "dimensions": {"ad_id": f"179000{i}", "stat_time_day": f"{DAY0 + timedelta(days=day)} 00:00:00"},
        "metrics": {
            "spend": major(spend, exp), "impressions": str(impressions), "clicks": str(clicks),
            "conversion": str(conversions), "total_purchase_value": major(value, exp),
            "campaign_id": "1790001", "adgroup_id": f"179001{i % 3}", "currency": currency,
        },
    }  # fmt: skip


@st.composite
def tiktok_pages(draw: st.DrawFn) -> tuple[list[Any], AdAccount, bool]:
    acc = draw(st.sampled_from(ACCOUNTS[Platform.TIKTOK]))
    exp = {"USD": 2, "JPY": 0, "KWD": 3}[acc.currency]
    n = draw(st.integers(0, 6))
    page: list[Any] = [tiktok_row(i, draw(st.integers(0, 3)), draw(figures), exp, acc.currency) for i in range(n)]
    mutated = False
    for _ in range(draw(st.integers(0, 3)) if n else 0):
        mutated = True
        i = draw(st.integers(0, n - 1))
        kind = draw(st.sampled_from(["set", "drop", "part", "row", "no_value"]))
        part = draw(st.sampled_from(["dimensions", "metrics"]))
        keys = list(tiktok_row(0, 0, (1, 1, 1, 1, 1), 2, "USD")[part])
        if kind == "row":
            page[i] = draw(odd)
        elif not isinstance(page[i], dict):
            continue
        elif kind == "part":
            page[i][part] = draw(odd)
        elif not isinstance(page[i].get(part), dict):
            continue
        elif kind == "drop":
            page[i][part].pop(draw(st.sampled_from(keys)), None)
        elif kind == "no_value":  # TikTok's "-" for a metric without a value
            page[i][part][draw(st.sampled_from(keys))] = "-"
        else:
            page[i][part][draw(st.sampled_from(keys))] = draw(odd)
    return page, acc, mutated


def tiktok_by_rows(page: list[Any], acc: AdAccount) -> InsightColumns | None:
    try:
        rows = [tiktok.insight(r, acc) for r in page]
    except Exception:
        return None
    cols = InsightColumns(Platform.TIKTOK, acc.account_id, acc.currency)
    cols.add_insights(rows)
    return cols


@settings(max_examples=400, deadline=None)
@given(tiktok_pages())
def test_tiktok_columns_equal_the_row_mapping(case: tuple[list[Any], AdAccount, bool]) -> None:
    page, acc, mutated = case
    fast, by_rows = tiktok.insight_columns(page, acc), tiktok_by_rows(page, acc)
    if fast is not None:
        assert by_rows is not None, "the row mapper refuses this page, so the column mapper must too"
        assert same(fast, by_rows)
    elif not mutated:
        raise AssertionError("a plain page must take the column path")


def csv_text(rows: list[dict[str, Any]], extra: list[str]) -> str:
    header = [*tiktok_settings.REPORT_DIMENSIONS, *tiktok_settings.REPORT_METRICS, *extra]
    lines = [",".join(header)]
    for r in rows:
        values = [*r["dimensions"].values(), *(r["metrics"][m] for m in tiktok_settings.REPORT_METRICS)]
        lines.append(",".join([*values, *("x" for _ in extra)]))
    return "\n".join(lines) + "\n"


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, AdAccount, bool]:
    acc = draw(st.sampled_from(ACCOUNTS[Platform.TIKTOK]))
    exp = {"USD": 2, "JPY": 0, "KWD": 3}[acc.currency]
    rows = [
        tiktok_row(i, draw(st.integers(0, 3)), draw(figures), exp, acc.currency) for i in range(draw(st.integers(0, 5)))
    ]
    text = csv_text(rows, draw(st.sampled_from([[], ["ad_name"]])))
    if draw(st.booleans()):
        text = "\ufeff" + text
    mutated = False
    for _ in range(draw(st.integers(0, 3))):
        mutated = True
        at = draw(st.integers(0, len(text)))
        piece = draw(
            st.sampled_from(['"', '"a,b"', "\r", "\r\n", "\n", "\n\n", " ", ",", "-", "x", "\x00", "1.5", " , "])
        )
        text = text[:at] + piece + text[at:]
    return text, acc, mutated


def csv_by_rows(text: str, acc: AdAccount) -> InsightColumns | None:
    try:
        raw = tiktok.report_csv(text, tiktok_settings.REPORT_DIMENSIONS, tiktok_settings.REPORT_METRICS)
    except Exception:
        return None
    return tiktok_by_rows(raw, acc)


@settings(max_examples=400, deadline=None)
@given(csv_files())
def test_tiktok_csv_columns_equal_the_row_mapping(case: tuple[str, AdAccount, bool]) -> None:
    text, acc, mutated = case
    fast, by_rows = tiktok.csv_insight_columns(text, acc), csv_by_rows(text, acc)
    if fast is not None:
        assert by_rows is not None, "the row path refuses this file, so the column path must too"
        assert same(fast, by_rows)
    elif not mutated:
        raise AssertionError("a plain file must take the column path")


# -- X -----------------------------------------------------------------------------------------------------------
WINDOW = DateWindow(DAY0, DAY0 + timedelta(days=3))
PARENTS = {f"t{i}": ("c1", f"l{i % 2}") for i in range(5)}
SERIES = [
    ("impressions",), ("clicks",), ("billed_charge_local_micro",),
    ("conversion_purchases", "metric"), ("conversion_purchases", "sale_amount"),
]  # fmt: skip


def x_item(i: int, values: list[list[int | None] | None]) -> dict[str, Any]:
    metrics: dict[str, Any] = {"conversion_purchases": {}}
    for path, v in zip(SERIES, values, strict=True):
        (metrics["conversion_purchases"] if len(path) == 2 else metrics)[path[-1]] = v
    return {"id": f"t{i}", "id_data": [{"segment": None, "metrics": metrics}]}


series = st.one_of(
    st.none(), st.lists(st.one_of(st.integers(0, 10**12), st.none()), min_size=WINDOW.days, max_size=WINDOW.days)
)


@st.composite
def x_docs(draw: st.DrawFn) -> tuple[dict[str, Any], AdAccount, bool]:
    acc = draw(st.sampled_from(ACCOUNTS[Platform.X]))
    items = [x_item(i, [draw(series) for _ in SERIES]) for i in range(draw(st.integers(0, 5)))]
    doc: dict[str, Any] = {"data_type": "stats", "time_series_length": WINDOW.days, "data": items}
    mutated = False
    for _ in range(draw(st.integers(0, 2)) if items else 0):
        mutated = True
        item = draw(st.sampled_from(items))
        kind = draw(st.sampled_from(["value", "series", "id", "length"]))
        metrics = item["id_data"][0]["metrics"]
        path = draw(st.sampled_from(SERIES))
        holder = metrics["conversion_purchases"] if len(path) == 2 else metrics
        if kind == "value" and isinstance(holder.get(path[-1]), list):
            holder[path[-1]][draw(st.integers(0, WINDOW.days - 1))] = draw(
                st.sampled_from([-1, True, 1.5, "3", 2**70, None])
            )
        elif kind == "series":
            holder[path[-1]] = draw(odd)
        elif kind == "id":
            item["id"] = draw(st.sampled_from(["t9", "", 7, None]))
        else:
            doc["time_series_length"] = draw(st.sampled_from([WINDOW.days + 1, "4", None]))
    return doc, acc, mutated


@settings(max_examples=400, deadline=None)
@given(x_docs())
def test_x_columns_equal_the_row_mapping(case: tuple[dict[str, Any], AdAccount, bool]) -> None:
    doc, acc, mutated = case
    try:
        rows = x.stats_rows(doc, acc, WINDOW, PARENTS)
    except Exception:
        rows = None
    try:
        fast: InsightColumns | None = x.stats_columns(doc, acc, WINDOW, PARENTS)
    except Exception:
        fast = None
        assert mutated, "a plain document must take the column path"
    if fast is not None:
        assert rows is not None, "the row mapper refuses this document, so the column mapper must too"
        by_rows = InsightColumns(Platform.X, acc.account_id, acc.currency)
        by_rows.add_insights(rows)
        assert same(fast, by_rows)


# -- gathering a window ------------------------------------------------------------------------------------------
def test_a_repeated_pair_keeps_its_latest_values_at_its_first_place() -> None:
    acc = ACCOUNTS[Platform.META][0]
    first = meta.insight_columns([meta_row(0, 0, (10, 1, 100, 0, 0), 2, "USD")], acc)
    other = meta.insight_columns([meta_row(1, 0, (20, 2, 200, 1, 50), 2, "USD")], acc)
    again = meta.insight_columns([meta_row(0, 0, (11, 1, 101, 0, 0), 2, "USD")], acc)
    assert first is not None and other is not None and again is not None
    gathered = InsightColumns(Platform.META, acc.account_id, acc.currency)
    for cols in (first, other, again):
        gathered.extend(cols)
    window = InsightWindow(Platform.META, acc.account_id, DateWindow(DAY0, DAY0))
    table = gathered.batch(window).table
    assert table.column("ad_id").to_pylist() == ["4000", "4001"]
    assert table.column("impressions").to_pylist() == [11, 20]
    assert table.column("conversions").to_pylist() == [Decimal(0), Decimal(1)]
    assert gathered.first_outside(window.window) is None
    assert gathered.first_outside(DateWindow(DAY0 + timedelta(days=1), DAY0 + timedelta(days=2))) == DAY0


# -- every field, every odd value: one change to a plain page at a time ----------------------------------------------
def _one_change(page: list[dict[str, Any]], path: tuple[str, ...], value: Any) -> list[Any]:
    changed = copy.deepcopy(page)
    holder = changed[1]
    for key in path[:-1]:
        holder = holder[key]
    if value is _DROP and isinstance(holder, list):
        holder.pop(path[-1])
    elif value is _DROP:
        holder.pop(path[-1], None)
    else:
        holder[path[-1]] = value
    return changed


_DROP = object()
CHANGES = [*ODD, _DROP]


def test_meta_every_field_changed_alone() -> None:
    acc = ACCOUNTS[Platform.META][0]
    page = [meta_row(i, i, (100, 5, 1234, 2, 5000), 2, "USD") for i in range(3)]
    paths = [(k,) for k in META_KEYS] + [(k, 0, "value") for k in ("actions", "action_values")]
    paths += [(k, 0, "action_type") for k in ("actions", "action_values")] + [(k, 0) for k in ("actions",)]
    for path in paths:
        for value in CHANGES:
            changed = _one_change(page, path, value)
            fast, by_rows = meta.insight_columns(changed, acc), meta_by_rows(changed, acc)
            assert fast is None or (by_rows is not None and same(fast, by_rows)), (path, value)


def test_tiktok_every_field_changed_alone() -> None:
    acc = ACCOUNTS[Platform.TIKTOK][0]
    page = [tiktok_row(i, i, (100, 5, 1234, 2, 5000), 2, "USD") for i in range(3)]
    paths = [(part, k) for part in ("dimensions", "metrics") for k in page[0][part]]
    for path in [*paths, ("dimensions",), ("metrics",)]:
        for value in CHANGES:
            changed = _one_change(page, path, value)
            fast, by_rows = tiktok.insight_columns(changed, acc), tiktok_by_rows(changed, acc)
            assert fast is None or (by_rows is not None and same(fast, by_rows)), (path, value)


def test_tiktok_csv_every_character_inserted_anywhere() -> None:
    acc = ACCOUNTS[Platform.TIKTOK][0]
    text = csv_text([tiktok_row(i, i, (100, 5, 1234, 2, 5000), 2, "USD") for i in range(2)], ["ad_name"])
    for piece in ('"', '"a,b"', "\r", "\r\n", "\n", " ", ",", "-", "\x00", "\ufeff", "\u00a0", "\x1c"):
        for at in range(len(text) + 1):
            changed = text[:at] + piece + text[at:]
            fast, by_rows = tiktok.csv_insight_columns(changed, acc), csv_by_rows(changed, acc)
            assert fast is None or (by_rows is not None and same(fast, by_rows)), (piece, at)


def test_x_every_value_changed_alone() -> None:
    acc = ACCOUNTS[Platform.X][0]
    doc = {"time_series_length": WINDOW.days, "data": [x_item(i, [[1, 0, 2, None]] * 5) for i in range(3)]}
    for path in SERIES:
        for value in [*ODD, -1, 2**70, [1, 2], [1, True, 0, 0], [1, -1, 0, 0], [1, 1.0, 0, 0], [1, "2", 0, 0]]:
            changed = copy.deepcopy(doc)
            metrics = changed["data"][1]["id_data"][0]["metrics"]
            (metrics["conversion_purchases"] if len(path) == 2 else metrics)[path[-1]] = value
            try:
                rows = x.stats_rows(changed, acc, WINDOW, PARENTS)
            except Exception:
                rows = None
            try:
                fast: InsightColumns | None = x.stats_columns(changed, acc, WINDOW, PARENTS)
            except Exception:
                fast = None
            if fast is not None:
                assert rows is not None, (path, value)
                by_rows = InsightColumns(Platform.X, acc.account_id, acc.currency)
                by_rows.add_insights(rows)
                assert same(fast, by_rows), (path, value)


def test_tiktok_csv_longer_than_one_chunk() -> None:
    acc = ACCOUNTS[Platform.TIKTOK][2]
    rows = [tiktok_row(i, i % 4, (i, i % 7, 3 * i, i % 3, 5 * i), 3, "KWD") for i in range(tiktok._CSV_LINES * 2 + 5)]
    text = csv_text(rows, ["ad_name"])
    fast, by_rows = tiktok.csv_insight_columns(text, acc), csv_by_rows(text, acc)
    assert fast is not None and by_rows is not None and same(fast, by_rows)
    assert len(fast) == len(rows)
    broken = text.replace("\n179000100,", "\n179000100,1,", 1)  # one ragged line, deep in the file
    assert tiktok.csv_insight_columns(broken, acc) is None and csv_by_rows(broken, acc) is None
