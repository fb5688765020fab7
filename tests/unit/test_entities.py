"""The ad hierarchy: validation that names the field, content-addressed assets."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.domain.entities import (
    Ad,
    AdAccount,
    AdSet,
    Asset,
    AssetKind,
    Campaign,
    Creative,
    asset_id_for_bytes,
    asset_id_for_text,
    check_timezone,
    normalize_copy,
)
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import CurrencyError, Money
from adpilot.domain.status import Status

HEX64 = "0" * 64
ASSET_ID_RE = re.compile(r"sha256:[0-9a-f]{64}")


def account(**over: Any) -> AdAccount:
    kw: dict[str, Any] = {
        "platform": Platform.META,
        "account_id": "act_1",
        "name": "Acme",
        "currency": "USD",
        "timezone": "America/Los_Angeles",
    }
    return AdAccount(**{**kw, **over})


def campaign(**over: Any) -> Campaign:
    kw: dict[str, Any] = {
        "platform": Platform.META,
        "account_id": "act_1",
        "campaign_id": "c1",
        "name": "Spring",
        "status": Status.ACTIVE,
        "platform_status": "ACTIVE",
        "currency": "USD",
    }
    return Campaign(**{**kw, **over})


def ad_set(**over: Any) -> AdSet:
    kw: dict[str, Any] = {
        "platform": Platform.X,
        "account_id": "18ce54d4x5t",
        "campaign_id": "c1",
        "ad_set_id": "li1",
        "name": "Line item",
        "status": Status.PAUSED,
        "platform_status": "PAUSED",
        "currency": "JPY",
    }
    return AdSet(**{**kw, **over})


def ad(**over: Any) -> Ad:
    kw: dict[str, Any] = {
        "platform": Platform.TIKTOK,
        "account_id": "7000",
        "campaign_id": "c1",
        "ad_set_id": "ag1",
        "ad_id": "ad1",
        "name": "Ad",
        "status": Status.ACTIVE,
        "platform_status": "ENABLE",
    }
    return Ad(**{**kw, **over})


def creative(**over: Any) -> Creative:
    kw: dict[str, Any] = {"platform": Platform.META, "account_id": "act_1", "creative_id": "cr1"}
    return Creative(**{**kw, **over})


# -- valid entities and their refs ----------------------------------------------------------------


def test_valid_entities_and_refs() -> None:
    assert account().ref == EntityRef(Platform.META, "act_1", Level.ACCOUNT, "act_1")
    assert account().status is Status.ACTIVE
    assert campaign(daily_budget=Money("USD", 5000)).ref == EntityRef(Platform.META, "act_1", Level.CAMPAIGN, "c1")
    s = ad_set(daily_budget=Money("JPY", 0), bid=Money("JPY", 120))
    assert s.ref == EntityRef(Platform.X, "18ce54d4x5t", Level.AD_SET, "li1")
    assert str(s.ref) == "x/18ce54d4x5t/ad_set/li1"
    assert ad().ref == EntityRef(Platform.TIKTOK, "7000", Level.AD, "ad1")
    assert creative().ref == EntityRef(Platform.META, "act_1", Level.CREATIVE, "cr1")


def test_entities_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        account().name = "other"  # type: ignore[misc]


# -- validation names the field -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "field", "value"),
    [
        (account, "account_id", ""),
        (campaign, "account_id", ""),
        (campaign, "campaign_id", ""),
        (ad_set, "account_id", ""),
        (ad_set, "campaign_id", ""),
        (ad_set, "ad_set_id", ""),
        (ad_set, "ad_set_id", None),
        (ad, "account_id", ""),
        (ad, "campaign_id", ""),
        (ad, "ad_set_id", ""),
        (ad, "ad_id", ""),
        (ad, "ad_id", 123),
        (creative, "account_id", ""),
        (creative, "creative_id", ""),
    ],
)
def test_empty_ids_are_refused_naming_the_field(factory: Any, field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^{field}: must be a non-empty string"):
        factory(**{field: value})


@pytest.mark.parametrize("tz", ["Mars/Base", "", "../etc/passwd", "Not a zone", "America/Nowhere"])
def test_bad_timezone_is_refused_naming_the_field(tz: str) -> None:
    with pytest.raises(ValueError, match=r"^timezone: "):
        account(timezone=tz)
    with pytest.raises(ValueError, match=r"^timezone: "):
        check_timezone(tz)


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Asia/Tokyo", "Asia/Kuwait", "Europe/Berlin"])
def test_good_timezone(tz: str) -> None:
    assert check_timezone(tz) == tz
    assert account(timezone=tz).timezone == tz


@pytest.mark.parametrize("factory", [account, campaign, ad_set])
def test_unknown_currency_is_refused(factory: Any) -> None:
    with pytest.raises(CurrencyError, match=r"^currency: .*'XXX'"):
        factory(currency="XXX")


@pytest.mark.parametrize(
    ("factory", "field", "money"),
    [
        (campaign, "daily_budget", Money("EUR", 5000)),
        (ad_set, "daily_budget", Money("USD", 5000)),
        (ad_set, "bid", Money("USD", 100)),
    ],
)
def test_money_in_another_currency_is_refused(factory: Any, field: str, money: Money) -> None:
    with pytest.raises(ValueError, match=f"^{field}: {money.currency} differs from the account currency"):
        factory(**{field: money})


def test_negative_ad_set_budget_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^daily_budget: must not be negative"):
        ad_set(daily_budget=Money("JPY", -1))


def test_negative_campaign_budget_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^daily_budget: must not be negative"):
        campaign(daily_budget=Money("USD", -1))


# -- assets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Buy now", "buy now"),
        ("Buy now", "  Buy   now  "),
        ("Buy\nnow", "Buy\tnow"),
        ("BUY NOW", "buy\u00a0now"),  # no-break space is whitespace
        ("Ｂｕｙ now", "Buy now"),  # full-width letters, NFKC
        ("STRASSE", "straße"),  # case folding
    ],
)
def test_same_copy_with_other_spacing_or_case_is_one_asset(a: str, b: str) -> None:
    assert normalize_copy(a) == normalize_copy(b)
    assert asset_id_for_text(a) == asset_id_for_text(b)


def test_normalize_copy() -> None:
    assert normalize_copy("  Hello\n\n  WORLD \t") == "hello world"


@pytest.mark.parametrize(("a", "b"), [("Buy now", "Buy it now"), ("Buy now", "Buynow"), ("a", "a.")])
def test_different_copy_is_a_different_asset(a: str, b: str) -> None:
    assert asset_id_for_text(a) != asset_id_for_text(b)


def test_asset_id_for_bytes_is_sha256() -> None:
    # sha256 of the empty string
    assert asset_id_for_bytes(b"") == ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert asset_id_for_bytes(b"\x89PNG") != asset_id_for_bytes(b"\x89PNg")
    assert asset_id_for_bytes(b"abc") == asset_id_for_bytes(b"abc")


@given(a=st.binary(max_size=64), b=st.binary(max_size=64))
def test_asset_id_for_bytes_properties(a: bytes, b: bytes) -> None:
    assert ASSET_ID_RE.fullmatch(asset_id_for_bytes(a))
    assert (asset_id_for_bytes(a) == asset_id_for_bytes(b)) == (a == b)


@given(words=st.lists(st.text(alphabet="abcXYZ", min_size=1, max_size=5), min_size=1, max_size=5))
def test_asset_id_for_text_ignores_spacing_and_case(words: list[str]) -> None:
    plain = " ".join(words)
    noisy = "\t " + "  \n".join(w.upper() for w in words) + " "
    assert asset_id_for_text(plain) == asset_id_for_text(noisy)
    assert ASSET_ID_RE.fullmatch(asset_id_for_text(plain))
    asset = Asset(asset_id_for_text(plain), AssetKind.TEXT, text=plain)
    assert asset.asset_id == asset_id_for_text(noisy)


def test_valid_assets() -> None:
    image = Asset(asset_id_for_bytes(b"png"), AssetKind.IMAGE, name="hero.png", width=1080, height=1080)
    assert image.text is None
    video = Asset(asset_id_for_bytes(b"mp4"), AssetKind.VIDEO, duration_ms=15_000)
    assert video.kind is AssetKind.VIDEO
    text = Asset(asset_id_for_text("Buy now"), AssetKind.TEXT, text="Buy now")
    assert text.text == "Buy now"


@pytest.mark.parametrize(
    "asset_id",
    [
        "",
        HEX64,
        "sha256:" + "0" * 63,
        "sha256:" + "0" * 65,
        "sha256:" + "A" * 64,  # upper-case hex
        "sha256:" + "g" * 64,
        "md5:" + "0" * 64,
        "SHA256:" + HEX64,
        " sha256:" + HEX64,
        "sha256:" + HEX64 + "\n",
    ],
)
def test_asset_refuses_malformed_ids(asset_id: str) -> None:
    with pytest.raises(ValueError, match=r"^asset_id: "):
        Asset(asset_id, AssetKind.IMAGE)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (AssetKind.TEXT, None),
        (AssetKind.IMAGE, "caption"),
        (AssetKind.VIDEO, ""),
    ],
)
def test_asset_text_only_for_text_kind(kind: AssetKind, text: str | None) -> None:
    with pytest.raises(ValueError, match=r"^text: "):
        Asset("sha256:" + HEX64, kind, text=text)
