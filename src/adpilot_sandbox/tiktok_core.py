"""The lower layer of the TikTok surface: application errors, request parameters, money and paging, and the
per-request context the endpoint modules (tiktok_objects, tiktok_reports, tiktok_api) share."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson
from starlette.requests import Request

from adpilot_sandbox.auth import Token
from adpilot_sandbox.entities import Account, exponent
from adpilot_sandbox.faults import Faults
from adpilot_sandbox.market import Market
from adpilot_sandbox.sandbox import Sandbox

PLATFORM = "tiktok"
MAX_PAGE_SIZE = 1000


class ApiError(Exception):
    """An application error: HTTP 200 with a non-zero ``code`` in the envelope."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def param_error(message: str) -> ApiError:
    return ApiError(40002, message)


# -- request parameters ----------------------------------------------------------------------------------
_MISSING = "Missing data for required field."


class Params:
    """Request parameters: GET values are strings (lists and objects JSON-encoded), POST JSON is typed."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)

    def present(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def _decoded(self, name: str, opener: str) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            text = value.strip()
            if not text.startswith(opener):
                return value
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                raise param_error(f"{name}: Not a valid JSON value.") from None
        return value

    def text(self, name: str, *, required: bool = False, max_len: int | None = None) -> str | None:
        value = self.raw.get(name)
        if value in (None, ""):
            if required:
                raise param_error(f"{name}: {_MISSING}")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise param_error(f"{name}: Not a valid string.")
        out = str(value)
        if max_len is not None and len(out) > max_len:
            raise param_error(f"{name}: Length must be at most {max_len} characters.")
        return out

    def req(self, name: str, *, max_len: int | None = None) -> str:
        out = self.text(name, required=True, max_len=max_len)
        assert out is not None
        return out

    def strings(self, name: str, *, required: bool = False, max_n: int | None = None) -> list[str] | None:
        value = self._decoded(name, "[")
        if value in (None, ""):
            if required:
                raise param_error(f"{name}: {_MISSING}")
            return None
        if not isinstance(value, list):
            raise param_error(f"{name}: Not a valid list.")
        out: list[str] = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise param_error(f"{name}: Not a valid list of strings.")
            out.append(str(item))
        if required and not out:
            raise param_error(f"{name}: Shorter than minimum length 1.")
        if max_n is not None and len(out) > max_n:
            raise ApiError(40011, f"{name}: Too many ids, at most {max_n} are allowed (got {len(out)}).")
        return out

    def mapping(self, name: str) -> dict[str, Any] | None:
        value = self._decoded(name, "{")
        if value in (None, ""):
            return None
        if not isinstance(value, dict):
            raise param_error(f"{name}: Not a valid mapping type.")
        return value

    def records(self, name: str, *, required: bool = False) -> list[dict[str, Any]] | None:
        value = self._decoded(name, "[")
        if value in (None, ""):
            if required:
                raise param_error(f"{name}: {_MISSING}")
            return None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise param_error(f"{name}: Not a valid list of objects.")
        if required and not value:
            raise param_error(f"{name}: Shorter than minimum length 1.")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.raw.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            raise param_error(f"{name}: Not a valid integer.")
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if not isinstance(value, int):
            raise param_error(f"{name}: Not a valid integer.")
        if not lo <= value <= hi:
            raise param_error(f"{name}: Must be greater than or equal to {lo} and less than or equal to {hi}.")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise param_error(f"{name}: Not a valid boolean.")

    def choice(self, name: str, allowed: Iterable[str], *, default: str | None = None,
               required: bool = False) -> str | None:  # fmt: skip
        value = self.text(name, required=required and default is None)
        if value is None:
            return default
        options = tuple(allowed)
        if value not in options:
            raise param_error(f"{name}: Must be one of: {', '.join(options)}.")
        return value

    def amount(self, name: str, currency: str, *, required: bool = False) -> int | None:
        """A major-unit amount (budget, bid) converted exactly to minor units of ``currency``."""
        value = self.raw.get(name)
        if value in (None, ""):
            if required:
                raise param_error(f"{name}: {_MISSING}")
            return None
        return to_minor(name, value, currency)


def to_minor(name: str, value: Any, currency: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise param_error(f"{name}: Not a valid number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise param_error(f"{name}: Not a valid number.") from None
    if not number.is_finite():
        raise param_error(f"{name}: Not a valid number.")
    exp = exponent(currency)
    minor = number.scaleb(exp)
    if minor != minor.to_integral_value():
        raise param_error(f"{name}: {currency} amounts take at most {exp} decimal places, got {value}.")
    if number <= 0:
        raise param_error(f"{name}: Must be greater than 0.")
    return int(minor)


# -- formatting --------------------------------------------------------------------------------------------
def major(minor: int, currency: str) -> str:
    """Minor units as a major-unit decimal string with the currency's decimals, exactly."""
    exp = exponent(currency)
    if exp == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"


def major_number(minor: int | None, currency: str) -> float:
    """Entity budgets and bids: a JSON number in major units."""
    return 0.0 if minor is None else float(Decimal(minor).scaleb(-exponent(currency)))


def ratio(num: Decimal, den: Decimal, *, empty: str = "0.00") -> str:
    if den == 0:
        return empty
    return str((num / den).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def page_slice(rows: list[Any], page: int, page_size: int, faults: Faults) -> tuple[list[Any], dict[str, int]]:
    """One page of ``rows`` and its ``page_info``; the ``truncate`` and ``repeat`` faults apply here."""
    truncated = faults.decide(PLATFORM, "truncate")
    repeated = faults.decide(PLATFORM, "repeat")
    shown = page - 1 if repeated and page > 1 else page
    chunk = rows[(shown - 1) * page_size : shown * page_size]
    if truncated and chunk:
        chunk = chunk[: len(chunk) * 2 // 3]
    info = {"page": page, "page_size": page_size, "total_number": len(rows),
            "total_page": math.ceil(len(rows) / page_size)}  # fmt: skip
    return chunk, info


# -- per-request context ---------------------------------------------------------------------------------------
@dataclass
class State:
    """What the surface remembers beyond the market: creative fields TikTok keeps on the ad."""

    ad_extra: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Ctx:
    sandbox: Sandbox
    request: Request
    params: Params
    state: State
    token: Token | None = None

    @property
    def m(self) -> Market:
        return self.sandbox.market

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def advertiser(self, name: str = "advertiser_id") -> Account:
        """The advertiser named by parameter ``name``, after the token's permission check."""
        return self.account(self.params.req(name))

    def account(self, advertiser_id: str) -> Account:
        assert self.token is not None
        if self.token.accounts and advertiser_id not in self.token.accounts:
            raise ApiError(40001, f"No permission to operate advertiser {advertiser_id}.")
        acc = self.m.accounts.get((PLATFORM, advertiser_id))
        if acc is None:
            raise ApiError(40001, f"No permission to operate advertiser {advertiser_id}.")
        return acc
