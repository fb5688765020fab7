"""The simulated ad market: a deterministic, seeded, day-stepped world behind the imitation APIs.

Each day, for every active ad set: spend ≈ budget; deliverable impressions follow a Hill curve of
spend deflated by the day's CPM factor (seasonality, weekday, regime events, a lognormal shock); the
platform splits delivery among the ad set's active ads, favouring (noisily) what it predicts is best;
clicks and conversions are binomial with creative quality, frequency and age fatigue, daily CVR noise
and a learning-phase penalty; the platform attributes a share of conversions and reveals them over
the following days by its lag profile, so recent days are restated upwards.

All noise is common random numbers (see :mod:`adpilot_sandbox.noise`): the same seed gives the same
noise whatever a policy does.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from adpilot_sandbox.entities import (
    Account,
    Ad,
    AdSet,
    Campaign,
    Creative,
    Image,
    exponent,
    png_size,
    synthetic_png,
)
from adpilot_sandbox.noise import (
    FloatArray,
    IntArray,
    Noise,
    binomial_from_uniform,
    stable_key,
    systematic_round,
)
from adpilot_sandbox.oracle import oracle_inputs, solve_oracle
from adpilot_sandbox.scenario import AdSetSpec, AdSpec, Curve, Event, PlatformSpec, Scenario

PLATFORMS = ("meta", "x", "tiktok")


class SandboxError(Exception):
    """A request the market refuses; API surfaces render it in their platform's error format."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # invalid | not_found | rate_limited | permission
        self.field = field
        self.message = message


def hill(spend: FloatArray, curve_imax: FloatArray, curve_k: FloatArray, alpha: FloatArray) -> FloatArray:
    s = np.maximum(spend, 0.0)
    sa = np.power(s, alpha)
    return np.asarray(curve_imax * sa / (sa + np.power(curve_k, alpha)), dtype=np.float64)


def _norm_text(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def _base36(n: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = chars[r] + out
    return out or "0"


_Q4_POINTS = ((274, 0.0), (319, 0.6), (332, 1.0), (344, 0.7), (358, 0.5), (366, 0.0))


def q4_bump(day: date) -> float:
    """0 outside the holiday season, 1 at its late-November peak (piecewise linear by day of year)."""
    doy = day.timetuple().tm_yday
    for (d0, v0), (d1, v1) in itertools.pairwise(_Q4_POINTS):
        if d0 <= doy <= d1:
            return v0 + (v1 - v0) * (doy - d0) / (d1 - d0)
    return 0.0


@dataclass
class DayRecord:
    """Everything delivered on one day, by ad slot (slots existing that day)."""

    impressions: IntArray
    clicks: IntArray
    spend: IntArray  # minor units of the ad's account currency
    conversions: IntArray  # delivered (true)
    value: IntArray  # minor units, delivered
    attributed: IntArray  # what the platform will report once every lag has passed
    attributed_value: IntArray
    lag_u: FloatArray
    set_attributed: FloatArray  # attributed conversions per ad set (index = ad-set creation order)
    expected_conversions: float  # noise-free expectation of the actual delivery (reporting objective)
    oracle_inputs: dict[str, Any]  # the morning's true state the oracle needs; solved on demand
    set_budget: FloatArray  # each ad set's budget that day in reporting currency (0 when nothing could deliver)
    oracle_result: dict[str, Any] | None = None


class Market:
    """The world: entities, the daily step, the truth record, writes and the write log."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.noise = Noise(scenario.seed)
        self.day = 0  # index of the current (not yet delivered) day; days < self.day are complete
        self.hours = 0.0  # simulated hours into the current day, for rate-limit windows
        self.accounts: dict[tuple[str, str], Account] = {}
        self.campaigns: dict[str, Campaign] = {}
        self.ad_sets: dict[str, AdSet] = {}
        self.creatives: dict[str, Creative] = {}
        self.ads: dict[str, Ad] = {}
        self.images: dict[tuple[str, str, str], Image] = {}  # (platform, account, hash)
        self.slots: list[Ad] = []
        self.records: list[DayRecord] = []
        self.write_log: list[dict[str, Any]] = []
        self._counters = dict.fromkeys(PLATFORMS, 0)
        self._specs = {p: scenario.platform(p) for p in PLATFORMS}
        self._image_index: dict[tuple[str, str, str], Image] = {}  # (platform, account, hash|id|name)
        self._set_positions: dict[str, int] = {}  # ad-set id → index in creation order (DayRecord.set_attributed)
        self._static: dict[str, Any] | None = None  # arrays that change only when entities are added
        self._cum_impr = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[int, AdSpec, AdSet, Account]] = []
        self._build()
        for _ in range(scenario.history_days):
            self._step()

    # -- time ----------------------------------------------------------------------------------------------
    @property
    def today(self) -> date:
        return self.scenario.start_date + timedelta(days=self.day)

    def date_of(self, day: int) -> date:
        return self.scenario.start_date + timedelta(days=day)

    def day_of(self, d: date) -> int:
        return (d - self.scenario.start_date).days

    @property
    def now(self) -> datetime:
        return datetime.combine(self.today, time(9, 0), UTC) + timedelta(hours=self.hours)

    def advance(self, days: int = 0, hours: float = 0.0) -> None:
        """Deliver ``days`` more days (running the market), or move the clock within the day."""
        if days < 0 or hours < 0:
            raise SandboxError("invalid", "days", "time only moves forward")
        if self.day + days > self.scenario.history_days + self.scenario.horizon_days:
            raise SandboxError("invalid", "days", "beyond the scenario's horizon_days")
        for _ in range(days):
            self._step()
        self.hours = 0.0 if days else self.hours + hours

    # -- ids -----------------------------------------------------------------------------------------------
    def new_id(self, platform: str) -> str:
        self._counters[platform] += 1
        n = self._counters[platform]
        if platform == "meta":
            return str(120_210_000_000_000 + n * 7)
        if platform == "x":
            return _base36(36**4 * 7 + n * 37)
        return str(1_790_000_000_000_000_000 + n * 11)

    # -- scenario ------------------------------------------------------------------------------------------
    def _build(self) -> None:
        at = datetime.combine(self.scenario.start_date, time(8, 0), UTC)
        for acc_spec in self.scenario.accounts:
            acc = Account(
                acc_spec.platform,
                acc_spec.id,
                acc_spec.name,
                acc_spec.currency,
                acc_spec.timezone,
                created_at=at - timedelta(days=400),
            )
            self.accounts[acc.key] = acc
            unit = 10 ** exponent(acc.currency)
            for c_spec in acc_spec.campaigns:
                camp = Campaign(
                    self.new_id(acc.platform),
                    acc.platform,
                    acc.id,
                    c_spec.name,
                    c_spec.objective,
                    c_spec.status,
                    None,
                    at,
                    at,
                )
                self.campaigns[camp.id] = camp
                for s_spec in c_spec.ad_sets:
                    ad_set = self._ad_set_from_spec(acc, camp, s_spec, unit, at)
                    for a_spec in s_spec.ads:
                        self._pending.append((a_spec.start_day, a_spec, ad_set, acc))
                if acc.platform == "x":
                    # X keeps the daily budget on the campaign; its line items share it in proportion
                    # to their own weights (the scenario's line-item budgets).
                    camp.daily_budget_minor = sum(
                        s.daily_budget_minor for s in self.ad_sets.values() if s.campaign_id == camp.id
                    )
        self._create_pending(0)

    def _ad_set_from_spec(self, acc: Account, camp: Campaign, s: AdSetSpec, unit: int, at: datetime) -> AdSet:
        ad_set = AdSet(
            self.new_id(acc.platform),
            acc.platform,
            acc.id,
            camp.id,
            s.name,
            s.status,
            round(s.daily_budget * unit),
            None if s.bid is None else round(s.bid * unit),
            s.optimization_goal,
            s.curve,
            s.ctr,
            s.cvr,
            s.aov,
            s.audience,
            at,
            at,
        )
        ad_set.key = stable_key("adset", acc.platform, acc.id, camp.name, s.name)
        self.ad_sets[ad_set.id] = ad_set
        return ad_set

    def _create_pending(self, day: int) -> None:
        due = [p for p in self._pending if p[0] <= day]
        self._pending = [p for p in self._pending if p[0] > day]
        for _, a_spec, ad_set, acc in due:
            image = self.upload_image(
                acc.platform,
                acc.id,
                synthetic_png(a_spec.image or a_spec.name),
                name=f"{a_spec.image or a_spec.name}.png",
                log=False,
            )
            creative = self.create_creative(
                acc.platform,
                acc.id,
                name=a_spec.name,
                headline=a_spec.headline,
                body=a_spec.body,
                cta=a_spec.cta,
                image_hash=image.hash,
                link_url="https://shop.example/",
                log=False,
                ctr_mult=a_spec.ctr_mult,
                cvr_mult=a_spec.cvr_mult,
            )
            ad = self.create_ad(ad_set.id, creative.id, name=a_spec.name, status=a_spec.status, log=False)
            if a_spec.fatigue_beta is not None:
                ad.fatigue_beta = a_spec.fatigue_beta
            if a_spec.half_life_days is not None:
                ad.half_life_days = a_spec.half_life_days

    # -- lookups -------------------------------------------------------------------------------------------
    def spec(self, platform: str) -> PlatformSpec:
        return self._specs[platform]

    def account(self, platform: str, account_id: str) -> Account:
        acc = self.accounts.get((platform, account_id))
        if acc is None:
            raise SandboxError("not_found", "account_id", f"account {account_id} does not exist")
        return acc

    def currency_of(self, platform: str, account_id: str) -> str:
        return self.account(platform, account_id).currency

    def campaigns_of(self, platform: str, account_id: str) -> list[Campaign]:
        return [c for c in self.campaigns.values() if c.platform == platform and c.account_id == account_id]

    def ad_sets_of(self, platform: str, account_id: str) -> list[AdSet]:
        return [s for s in self.ad_sets.values() if s.platform == platform and s.account_id == account_id]

    def ads_of(self, platform: str, account_id: str) -> list[Ad]:
        return [a for a in self.ads.values() if a.platform == platform and a.account_id == account_id]

    def creatives_of(self, platform: str, account_id: str) -> list[Creative]:
        return [c for c in self.creatives.values() if c.platform == platform and c.account_id == account_id]

    def images_of(self, platform: str, account_id: str) -> list[Image]:
        return [i for i in self.images.values() if i.platform == platform and i.account_id == account_id]

    def find(self, entity_id: str) -> Campaign | AdSet | Ad | Creative | None:
        return (
            self.campaigns.get(entity_id)
            or self.ad_sets.get(entity_id)
            or self.ads.get(entity_id)
            or self.creatives.get(entity_id)
        )

    # -- creative quality from content ---------------------------------------------------------------------
    def element_effects(self, platform: str, headline: str, image_sha256: str, cta: str) -> tuple[float, float]:
        """(CTR, CVR) multipliers of a combination of elements: the same content always scores the same."""
        sigma = self.spec(platform).element_sigma
        h, c = _norm_text(headline), cta.strip().upper()
        n = self.noise.scalar_normal
        z_ctr = (n("headline", h) + n("image", image_sha256) + n("cta", c)) / math.sqrt(3)
        z_pair = n("headline×image", h, image_sha256)
        z_cvr = (n("headline-cvr", h) + n("image-cvr", image_sha256) + n("cta-cvr", c)) / math.sqrt(3)
        m_ctr = math.exp(sigma * z_ctr + 0.5 * sigma * z_pair - 0.5 * (sigma**2) * 1.25)
        m_cvr = math.exp(0.6 * sigma * z_cvr - 0.5 * (0.6 * sigma) ** 2)
        return m_ctr, m_cvr

    # -- writes --------------------------------------------------------------------------------------------
    def _log(self, platform: str, kind: str, entity_id: str, field: str, old: Any, new: Any) -> None:
        self.write_log.append(
            {
                "at": self.now.isoformat(),
                "day": self.today.isoformat(),
                "platform": platform,
                "entity": kind,
                "id": entity_id,
                "field": field,
                "old": old,
                "new": new,
            }
        )

    def upload_image(self, platform: str, account_id: str, data: bytes, *, name: str, log: bool = True) -> Image:
        import hashlib

        self.account(platform, account_id)
        if not data:
            raise SandboxError("invalid", "bytes", "the image is empty")
        digest = hashlib.md5(data).hexdigest()  # Meta's image hash is an md5 of the bytes
        key = (platform, account_id, digest)
        if key not in self.images:
            w, h = png_size(data)
            img = Image(
                digest, platform, account_id, name, data, w or 600, h or 600, self.now, id=self.new_id(platform)
            )
            self.images[key] = img
            for ref in (img.name, img.id, img.hash):  # the hash last: it wins a clash with a name
                self._image_index[(platform, account_id, ref)] = img
            if log:
                self._log(platform, "image", digest, "created", None, name)
        return self.images[key]

    def alias_image(self, img: Image, ref: str) -> None:
        """Another name the image answers to (X's media key, derived from the upload)."""
        self._image_index[(img.platform, img.account_id, ref)] = img

    def image(self, platform: str, account_id: str, ref: str) -> Image:
        """An image by hash, id (TikTok image_id, X media_key) or name."""
        img = self._image_index.get((platform, account_id, ref))
        if img is not None:
            return img
        raise SandboxError("not_found", "image", f"image {ref} does not exist in account {account_id}")

    def create_campaign(
        self,
        platform: str,
        account_id: str,
        *,
        name: str,
        objective: str,
        status: str,
        daily_budget_minor: int | None = None,
    ) -> Campaign:
        self.account(platform, account_id)
        _check_status(status)
        camp = Campaign(
            self.new_id(platform), platform, account_id, name, objective, status, daily_budget_minor, self.now, self.now
        )
        self.campaigns[camp.id] = camp
        self._log(platform, "campaign", camp.id, "created", None, name)
        return camp

    def create_ad_set(
        self,
        campaign_id: str,
        *,
        name: str,
        daily_budget_minor: int,
        status: str,
        bid_minor: int | None = None,
        optimization_goal: str = "CONVERSIONS",
    ) -> AdSet:
        camp = self.campaigns.get(campaign_id)
        if camp is None:
            raise SandboxError("not_found", "campaign_id", f"campaign {campaign_id} does not exist")
        if daily_budget_minor <= 0:
            raise SandboxError("invalid", "daily_budget", "a daily budget must be positive")
        _check_status(status)
        # An ad set created through the API gets the median market of its account's existing ad sets.
        peers = self.ad_sets_of(camp.platform, camp.account_id) or list(self.ad_sets.values())
        mid = sorted(peers, key=lambda s: s.curve.k)[len(peers) // 2] if peers else None
        curve = mid.curve if mid else Curve(i_max=100_000, k=500)
        ad_set = AdSet(
            self.new_id(camp.platform),
            camp.platform,
            camp.account_id,
            camp.id,
            name,
            status,
            daily_budget_minor,
            bid_minor,
            optimization_goal,
            curve,
            mid.ctr if mid else 0.01,
            mid.cvr if mid else 0.02,
            mid.aov if mid else 60.0,
            mid.audience if mid else 500_000,
            self.now,
            self.now,
        )
        ad_set.key = stable_key("adset-api", camp.platform, camp.account_id, camp.id, name)
        self._enter_learning(ad_set)
        self.ad_sets[ad_set.id] = ad_set
        self._log(camp.platform, "ad_set", ad_set.id, "created", None, name)
        return ad_set

    def create_creative(
        self,
        platform: str,
        account_id: str,
        *,
        name: str,
        headline: str,
        body: str,
        cta: str,
        image_hash: str | None,
        link_url: str,
        log: bool = True,
        ctr_mult: float | None = None,
        cvr_mult: float | None = None,
    ) -> Creative:
        self.account(platform, account_id)
        sha = ""
        if image_hash:
            sha = self.image(platform, account_id, image_hash).sha256
        m_ctr, m_cvr = self.element_effects(platform, headline or body, sha, cta)
        creative = Creative(
            self.new_id(platform),
            platform,
            account_id,
            name,
            headline,
            body,
            cta,
            image_hash,
            link_url,
            ctr_mult or m_ctr,
            cvr_mult or m_cvr,
            self.now,
        )
        self.creatives[creative.id] = creative
        if log:
            self._log(platform, "creative", creative.id, "created", None, name)
        return creative

    def create_ad(self, ad_set_id: str, creative_id: str, *, name: str, status: str, log: bool = True) -> Ad:
        ad_set = self.ad_sets.get(ad_set_id)
        if ad_set is None:
            raise SandboxError("not_found", "adset_id", f"ad set {ad_set_id} does not exist")
        creative = self.creatives.get(creative_id)
        if creative is None or creative.account_id != ad_set.account_id:
            raise SandboxError("not_found", "creative_id", f"creative {creative_id} does not exist")
        _check_status(status)
        spec = self.spec(ad_set.platform)
        ad = Ad(
            self.new_id(ad_set.platform),
            ad_set.platform,
            ad_set.account_id,
            ad_set.campaign_id,
            ad_set.id,
            creative.id,
            name,
            status,
            len(self.slots),
            stable_key("ad", ad_set.key, creative.headline, creative.image_hash or "", creative.cta, name),
            self.day,
            spec.fatigue_beta,
            spec.half_life_days,
            self.now,
            self.now,
        )
        self.ads[ad.id] = ad
        self.slots.append(ad)
        self._cum_impr = np.append(self._cum_impr, 0)
        if status == "ACTIVE":
            self._enter_learning(ad_set)
        if log:
            self._log(ad.platform, "ad", ad.id, "created", None, name)
        return ad

    def set_status(self, entity_id: str, status: str) -> tuple[str, str]:
        """Set ACTIVE/PAUSED/ARCHIVED/DELETED; returns (old, new)."""
        _check_status(status)
        entity = self.find(entity_id)
        if entity is None:
            raise SandboxError("not_found", "id", f"object {entity_id} does not exist")
        old = entity.status
        if old == "DELETED" and status != "DELETED":
            raise SandboxError("invalid", "status", "a deleted object cannot be changed")
        if old != status:
            entity.status = status
            if isinstance(entity, Ad | AdSet | Campaign):
                entity.updated_at = self.now
            if isinstance(entity, Ad) and "ACTIVE" in (old, status):
                self._enter_learning(self.ad_sets[entity.ad_set_id])  # adding or removing an ad
            if isinstance(entity, AdSet) and status == "ACTIVE":
                self._enter_learning(entity)
            self._log(entity.platform, _kind(entity), entity_id, "status", old, status)
        return old, status

    def set_budget(self, entity_id: str, minor: int, *, edits_per_hour: int | None = None) -> tuple[int | None, int]:
        entity = self.ad_sets.get(entity_id) or self.campaigns.get(entity_id)
        if entity is None:
            raise SandboxError("not_found", "id", f"ad set or campaign {entity_id} does not exist")
        if minor <= 0:
            raise SandboxError("invalid", "daily_budget", "a daily budget must be positive")
        old = entity.daily_budget_minor
        if isinstance(entity, AdSet) and old != minor:
            recent = [t for t in entity.budget_edits if t > self.now - timedelta(hours=1)]
            if edits_per_hour is not None and len(recent) >= edits_per_hour:
                raise SandboxError("rate_limited", "daily_budget", "too many budget changes in the last hour")
            entity.budget_edits = [*recent, self.now]
            if old and abs(minor / old - 1) > self.spec(entity.platform).learning_budget_change:
                self._enter_learning(entity)
        if old != minor:
            entity.daily_budget_minor = minor
            entity.updated_at = self.now
            self._log(entity.platform, _kind(entity), entity_id, "daily_budget", old, minor)
        return old, minor

    def set_bid(self, ad_set_id: str, minor: int) -> tuple[int | None, int]:
        ad_set = self.ad_sets.get(ad_set_id)
        if ad_set is None:
            raise SandboxError("not_found", "id", f"ad set {ad_set_id} does not exist")
        if minor <= 0:
            raise SandboxError("invalid", "bid_amount", "a bid must be positive")
        old = ad_set.bid_minor
        if old != minor:
            ad_set.bid_minor = minor
            ad_set.updated_at = self.now
            self._log(ad_set.platform, "ad_set", ad_set_id, "bid", old, minor)
        return old, minor

    def rename(self, entity_id: str, name: str) -> None:
        entity = self.find(entity_id)
        if entity is None:
            raise SandboxError("not_found", "id", f"object {entity_id} does not exist")
        if entity.name != name:
            self._log(entity.platform, _kind(entity), entity_id, "name", entity.name, name)
            entity.name = name

    def _enter_learning(self, ad_set: AdSet) -> None:
        ad_set.learning = True
        ad_set.learning_since = self.day
        ad_set.learning_reset_at = self.now

    # -- the daily step ------------------------------------------------------------------------------------
    def _cpm_factor(self, platform: str, d: date, day: int) -> float:
        spec = self.spec(platform)
        f = 1.0 + (spec.q4_multiplier - 1.0) * q4_bump(d)
        if d.weekday() == 4:
            f *= spec.friday_multiplier
        for ev in self.scenario.events:
            if not _live(ev, day):
                continue
            shifts_platform = ev.kind == "cpm_shift" or (ev.kind == "competitor" and ev.ad_set is None)
            if shifts_platform and ev.platform in (None, platform):
                f *= ev.factor
        return f

    def _tracking(self, platform: str, day: int) -> float:
        f = self.spec(platform).attribution_rate
        for ev in self.scenario.events:
            if ev.kind == "tracking_outage" and ev.platform in (None, platform) and _live(ev, day):
                f *= ev.factor
        return f

    def oracle_budget(self) -> float:
        """The total daily budget the oracle allocates, in reporting currency (major units)."""
        if self.scenario.total_daily_budget is not None:
            return float(self.scenario.total_daily_budget)
        if not hasattr(self, "_initial_budget"):
            self._initial_budget = sum(
                s.daily_budget_minor
                / 10 ** exponent(self.currency_of(s.platform, s.account_id))
                * self.fx(self.currency_of(s.platform, s.account_id))
                for s in self.ad_sets.values()
                if s.status == "ACTIVE"
            )
        return float(self._initial_budget)

    def oracle(self, day: int) -> dict[str, Any]:
        """The oracle's allocation and expected outcome for a delivered day (solved once, then cached)."""
        if not 0 <= day < self.day:
            raise SandboxError("invalid", "day", "the oracle covers delivered days only")
        rec = self.records[day]
        if rec.oracle_result is None:
            rec.oracle_result = solve_oracle(rec.oracle_inputs, self.oracle_budget())
        return rec.oracle_result

    def oracle_summary(self, first: int, last: int) -> dict[str, Any]:
        """Dynamic oracle vs what actually happened, over days ``first..last`` (complete days)."""
        last = min(last, self.day - 1)
        days = range(max(first, 0), last + 1)
        oracle = sum(self.oracle(t)["expected"] for t in days)
        expected = sum(self.records[t].expected_conversions for t in days)
        return {
            "first": self.date_of(days.start).isoformat() if days else None,
            "last": self.date_of(last).isoformat() if days else None,
            "objective": self.scenario.objective,
            "oracle_expected": oracle,
            "actual_expected": expected,
            "share_of_oracle": expected / oracle if oracle else None,
        }

    def fx(self, currency: str) -> float:
        """Reporting-currency major units per major unit of ``currency``."""
        return 1.0 if currency == self.scenario.reporting_currency else float(self.scenario.fx_rates[currency])

    def _static_arrays(self) -> dict[str, Any]:
        """Per-ad and per-ad-set arrays that only change when ads or ad sets are created."""
        sets = list(self.ad_sets.values())
        if self._static is not None and self._static["n"] == len(self.slots) and len(self._static["sets"]) == len(sets):
            return self._static
        set_index = {s.id: j for j, s in enumerate(sets)}
        creative = [self.creatives[a.creative_id] for a in self.slots]
        currency = [self.currency_of(s.platform, s.account_id) for s in sets]
        self._static = {
            "sets": sets,
            "n": len(self.slots),
            "ad_set_of": np.array([set_index[a.ad_set_id] for a in self.slots], dtype=np.int64),
            "m_ctr": np.array([c.m_ctr for c in creative], dtype=np.float64),
            "m_cvr": np.array([c.m_cvr for c in creative], dtype=np.float64),
            "beta": np.array([a.fatigue_beta for a in self.slots], dtype=np.float64),
            "half_life": np.array([a.half_life_days for a in self.slots], dtype=np.float64),
            "fatigue_floor": np.array([self.spec(a.platform).fatigue_floor for a in self.slots], dtype=np.float64),
            "created": np.array([a.created_day for a in self.slots], dtype=np.int64),
            "keys": np.array([a.key for a in self.slots], dtype=np.uint64),
            "set_keys": np.array([s.key for s in sets], dtype=np.uint64),
            "unit": np.array([10 ** exponent(c) for c in currency], dtype=np.float64),
            "fx": np.array([self.fx(c) for c in currency], dtype=np.float64),
            "i_max": np.array([s.curve.i_max for s in sets]),
            "k": np.array([s.curve.k for s in sets]),
            "alpha": np.array([s.curve.alpha for s in sets]),
            "ctr": np.array([s.ctr for s in sets]),
            "cvr": np.array([s.cvr for s in sets]),
            "aov": np.array([s.aov for s in sets]),
            "audience": np.array([s.audience for s in sets]),
            "platform": [s.platform for s in sets],
        }
        return self._static

    def live_state(self) -> dict[str, Any]:
        """Arrays describing ad sets and ads as they stand now (used by the step and the oracle)."""
        st = dict(self._static_arrays())
        sets: list[AdSet] = st["sets"]
        live_parent = {
            c.id: c.status == "ACTIVE" and self.accounts[(c.platform, c.account_id)].status == "ACTIVE"
            for c in self.campaigns.values()
        }
        set_live = np.array([s.status == "ACTIVE" and live_parent[s.campaign_id] for s in sets], dtype=bool)
        ad_live = np.array([a.status == "ACTIVE" for a in self.slots], dtype=bool)
        st["set_live"] = set_live
        st["ad_live"] = ad_live & set_live[st["ad_set_of"]] if st["n"] else ad_live
        st["ad_exists"] = np.array([a.status != "DELETED" for a in self.slots], dtype=bool)
        st["budget"] = self._effective_budgets(sets, set_live)
        st["learning"] = np.array([s.learning for s in sets], dtype=bool)
        return st

    def _effective_budgets(self, sets: list[AdSet], set_live: NDArray[np.bool_]) -> IntArray:
        """Ad-set budgets, with a campaign budget (X, Meta CBO) shared by its live ad sets by weight."""
        budget = np.array([s.daily_budget_minor for s in sets], dtype=np.int64)
        shared: dict[str, list[int]] = {}
        for j, s in enumerate(sets):
            if self.campaigns[s.campaign_id].daily_budget_minor is not None and set_live[j]:
                shared.setdefault(s.campaign_id, []).append(j)
        for campaign_id, members in shared.items():
            total = int(self.campaigns[campaign_id].daily_budget_minor or 0)
            weights = budget[members].astype(np.float64)
            parts = _allocate(np.array([total]), weights / weights.sum(), np.zeros(len(members), dtype=np.int64))
            budget[members] = parts
        return budget

    def cpm_factors(self, sets: list[AdSet], day: int) -> FloatArray:
        """Each ad set's deterministic CPM factor on ``day`` (season, weekday, regime events)."""
        d = self.date_of(day)
        by_platform = {p: self._cpm_factor(p, d, day) for p in PLATFORMS}
        factors = np.array([by_platform[s.platform] for s in sets])
        for ev in self.scenario.events:
            if ev.kind == "competitor" and ev.ad_set and _live(ev, day):
                for j, s in enumerate(sets):
                    if s.name == ev.ad_set and ev.platform in (None, s.platform):
                        factors[j] *= ev.factor
        return factors

    def ad_ctr_today(self, st: dict[str, Any], day: int) -> FloatArray:
        """Each ad's true CTR on ``day`` given its exposure so far (frequency and age fatigue)."""
        freq = self._cum_impr[: st["n"]] / st["audience"][st["ad_set_of"]]
        age = np.maximum(day - st["created"], 0)
        floor = st["fatigue_floor"]
        aging = floor + (1.0 - floor) * np.power(2.0, -age / st["half_life"])
        fatigue = np.power(1.0 + freq, -st["beta"]) * aging
        return np.asarray(st["ctr"][st["ad_set_of"]] * st["m_ctr"] * fatigue, dtype=np.float64)

    def _step(self) -> None:
        day = self.day
        self._create_pending(day)
        st = self.live_state()
        sets: list[AdSet] = st["sets"]
        n, nset = st["n"], len(sets)
        noise = self.noise
        plat = st["platform"]
        specs = {p: self.spec(p) for p in PLATFORMS}

        # ad set level: spend, CPM factor, deliverable impressions
        has_live_ad = np.bincount(st["ad_set_of"][st["ad_live"]], minlength=nset) > 0 if n else np.zeros(nset, bool)
        active = st["set_live"] & has_live_ad
        u_spend = noise.uniform("underdelivery", st["set_keys"], day)
        under = np.array([specs[p].underdelivery for p in plat])
        spend_set = np.where(active, np.floor(st["budget"] * (1 - 2 * under * u_spend)), 0).astype(np.int64)
        det_factor = self.cpm_factors(sets, day)
        sigma_cpm = np.array([specs[p].cpm_noise for p in plat])
        factor = det_factor * np.exp(sigma_cpm * noise.normal("cpm", st["set_keys"], day))
        spend_major = spend_set / st["unit"]
        impr_set = hill(spend_major / factor, st["i_max"], st["k"], st["alpha"])

        # ad level: the platform's delivery split among live ads
        ctr = self.ad_ctr_today(st, day)
        set_of = st["ad_set_of"]
        learn_pen = np.where(st["learning"], [specs[p].learning_cvr_penalty for p in plat], 1.0)
        sigma_cvr = np.array([specs[p].cvr_noise for p in plat])
        cvr_day = st["cvr"] * np.exp(sigma_cvr * noise.normal("cvr", st["set_keys"], day) - 0.5 * sigma_cvr**2)
        cvr_ad = cvr_day[set_of] * st["m_cvr"] * learn_pen[set_of] if n else np.zeros(0)
        sharp = np.array([specs[p].delivery_sharpness for p in plat])[set_of] if n else np.zeros(0)
        dnoise = np.array([specs[p].delivery_noise for p in plat])[set_of] if n else np.zeros(0)
        z_pred = noise.normal("delivery", st["keys"], day)
        pred = np.log(np.maximum(ctr * st["m_cvr"], 1e-12)) + dnoise * z_pred / np.sqrt(1 + self._cum_impr[:n] / 20_000)
        score = np.where(st["ad_live"], sharp * pred, -np.inf)
        w = _group_softmax(score, set_of, nset)
        spend_ad = _allocate(spend_set, w, set_of)
        impr_ad = _allocate(np.floor(impr_set).astype(np.int64), w, set_of)

        clicks = binomial_from_uniform(noise.uniform("clicks", st["keys"], day), impr_ad, ctr)
        conv = binomial_from_uniform(noise.uniform("conversions", st["keys"], day), clicks, cvr_ad)
        aov_ad = st["aov"][set_of] * np.exp(0.15 * noise.normal("order-value", st["keys"], day) - 0.01125)
        unit_ad = st["unit"][set_of]
        value = np.rint(conv * aov_ad * unit_ad).astype(np.int64)
        track = np.array([self._tracking(p, day) for p in plat])[set_of] if n else np.zeros(0)
        attributed = np.minimum(systematic_round(conv * track, noise.uniform("attribution", st["keys"], day)), conv)
        attributed_value = np.where(conv > 0, np.rint(value * attributed / np.maximum(conv, 1)), 0).astype(np.int64)

        # noise-free expectation of what this delivery yields, for share-of-oracle scoring
        exp_impr_set = hill(spend_major / det_factor, st["i_max"], st["k"], st["alpha"])
        base_cvr = st["cvr"][set_of] * st["m_cvr"] * learn_pen[set_of] if n else np.zeros(0)
        per_impr = (
            ctr * base_cvr * (st["aov"][set_of] * st["fx"][set_of] if self.scenario.objective == "value" else 1.0)
        )
        expected = float(np.sum(exp_impr_set[set_of] * w * per_impr)) if n else 0.0

        self._cum_impr[:n] += impr_ad
        set_attr = np.asarray(
            np.bincount(set_of, weights=attributed, minlength=nset) if n else np.zeros(nset), dtype=np.float64
        )
        self.records.append(
            DayRecord(
                impr_ad,
                clicks,
                spend_ad,
                conv,
                value,
                attributed,
                attributed_value,
                noise.uniform("lag", st["keys"], day),
                set_attr,
                expected,
                oracle_inputs(self, st, day, ctr),
                np.where(active, st["budget"] / st["unit"] * st["fx"], 0.0),
            )
        )
        self._update_learning(sets, day)
        self.day += 1
        self.hours = 0.0

    def _update_learning(self, sets: list[AdSet], day: int) -> None:
        """Leave learning after enough attributed conversions within the window since the last reset."""
        for j, ad_set in enumerate(sets):
            if not ad_set.learning:
                continue
            if self._learning_events(j, ad_set, day) >= self.spec(ad_set.platform).learning_events:
                ad_set.learning = False

    def _learning_events(self, j: int, ad_set: AdSet, last: int) -> float:
        """Attributed conversions of ad set ``j`` (creation order) that count toward leaving learning by the end
        of day ``last``: on the days since its last reset, within the learning window."""
        first = max(ad_set.learning_since, last - self.spec(ad_set.platform).learning_window_days + 1)
        return sum(float(r.set_attributed[j]) for r in self.records[first : last + 1] if j < len(r.set_attributed))

    def learning_events(self, ad_set: AdSet) -> int:
        """The events the learning phase has counted so far (delivered days since the last reset, within the
        window): what the step compares with ``learning_events`` when it decides whether the ad set leaves."""
        if len(self._set_positions) != len(self.ad_sets):
            self._set_positions = {sid: j for j, sid in enumerate(self.ad_sets)}
        return round(self._learning_events(self._set_positions[ad_set.id], ad_set, self.day - 1))

    # -- reporting -----------------------------------------------------------------------------------------
    def reported(
        self, platform: str, account_id: str, first: int, last: int, *, slots: IntArray | None = None
    ) -> dict[str, Any]:
        """Per (ad, day) rows of an account as the platform reports them now, for complete days only.

        Returns columns: ``ads`` (Ad objects), ``slot``, ``day`` (day indices), impressions, clicks, spend
        (minor), conversions and value (minor) as currently reported. Rows without delivery are left out.
        ``slots`` narrows the rows to those ads of the account, so a report over a few ids (an X stats job
        of 20) does not build the whole account's rows.
        """
        self.account(platform, account_id)
        last = min(last, self.day - 1)
        if slots is None:
            own = np.array([a.slot for a in self.ads_of(platform, account_id)], dtype=np.int64)
        else:  # ascending slots are ads_of order: ads get their slot as they are created
            own = np.array([s for s in np.unique(slots).tolist() if self._slot_of(s, platform, account_id)], np.int64)
        names = ("slot", "day", "impressions", "clicks", "spend", "conversions", "value")
        cols: dict[str, list[IntArray]] = {k: [] for k in names}
        cum = np.cumsum(self.spec(platform).lag_profile)
        for t in range(max(first, 0), last + 1):
            rec = self.records[t]
            s = own[own < len(rec.impressions)]
            delivered = (rec.impressions[s] > 0) | (rec.spend[s] > 0)
            s = s[delivered]
            if not len(s):
                continue
            lag = min(self.day - t - 1, len(cum) - 1)
            att = rec.attributed[s]
            conv = np.minimum(systematic_round(att * cum[lag], rec.lag_u[s]), att)
            value = np.where(att > 0, np.rint(rec.attributed_value[s] * conv / np.maximum(att, 1)), 0).astype(np.int64)
            cols["slot"].append(s)
            cols["day"].append(np.full(len(s), t, dtype=np.int64))
            cols["impressions"].append(rec.impressions[s])
            cols["clicks"].append(rec.clicks[s])
            cols["spend"].append(rec.spend[s])
            cols["conversions"].append(conv)
            cols["value"].append(value)
        out: dict[str, Any] = {k: (np.concatenate(v) if v else np.zeros(0, dtype=np.int64)) for k, v in cols.items()}
        out["ads"] = list(map(self.slots.__getitem__, out["slot"].tolist()))
        return out

    def _slot_of(self, slot: int, platform: str, account_id: str) -> bool:
        """Whether ``slot`` holds an ad of that account."""
        if not 0 <= slot < len(self.slots):
            return False
        ad = self.slots[slot]
        return ad.platform == platform and ad.account_id == account_id

    def truth(
        self, platform: str | None = None, account_id: str | None = None, first: int = 0, last: int | None = None
    ) -> list[dict[str, Any]]:
        """Delivered and currently reported figures per (platform, account, ad, day), account currency."""
        rows: list[dict[str, Any]] = []
        last = self.day - 1 if last is None else last
        for acc in self.accounts.values():
            if platform not in (None, acc.platform) or account_id not in (None, acc.id):
                continue
            rep = self.reported(acc.platform, acc.id, first, last)
            unit = 10 ** exponent(acc.currency)
            for i, ad in enumerate(rep["ads"]):
                t = int(rep["day"][i])
                rec = self.records[t]
                slot = ad.slot
                rows.append(
                    {
                        "platform": acc.platform,
                        "account_id": acc.id,
                        "currency": acc.currency,
                        "campaign_id": ad.campaign_id,
                        "ad_set_id": ad.ad_set_id,
                        "ad_id": ad.id,
                        "date": self.date_of(t).isoformat(),
                        "impressions": int(rec.impressions[slot]),
                        "clicks": int(rec.clicks[slot]),
                        "spend_minor": int(rec.spend[slot]),
                        "spend": _major(int(rec.spend[slot]), unit),
                        "delivered_conversions": int(rec.conversions[slot]),
                        "delivered_value_minor": int(rec.value[slot]),
                        "reported_conversions": int(rep["conversions"][i]),
                        "reported_value_minor": int(rep["value"][i]),
                    }
                )
        return rows


def _live(ev: Event, day: int) -> bool:
    """Whether a scenario event is in force on a day index."""
    return ev.day <= day and (ev.days is None or day < ev.day + ev.days)


def _major(minor: int, unit: int) -> str:
    digits = len(str(unit)) - 1
    return f"{minor / unit:.{digits}f}" if digits else str(minor)


def _kind(entity: object) -> str:
    return {Campaign: "campaign", AdSet: "ad_set", Ad: "ad", Creative: "creative"}[type(entity)]


def _check_status(status: str) -> None:
    if status not in ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED"):
        raise SandboxError("invalid", "status", f"status must be ACTIVE, PAUSED, ARCHIVED or DELETED, not {status!r}")


def _group_softmax(score: FloatArray, group: NDArray[np.int64], ngroups: int) -> FloatArray:
    """Softmax of ``score`` within each group; -inf scores get weight 0, empty groups nothing."""
    if not len(score):
        return np.zeros(0)
    finite = np.isfinite(score)
    gmax = np.full(ngroups, -np.inf)
    np.maximum.at(gmax, group[finite], score[finite])
    e = np.where(finite, np.exp(score - np.where(np.isfinite(gmax[group]), gmax[group], 0.0)), 0.0)
    total = np.bincount(group, weights=e, minlength=ngroups)
    return np.where(total[group] > 0, e / np.where(total[group] > 0, total[group], 1.0), 0.0)


def _allocate(totals: IntArray, weights: FloatArray, group: NDArray[np.int64]) -> IntArray:
    """Split integer group totals over members by weight, exactly (largest remainder)."""
    if not len(weights):
        return np.zeros(0, dtype=np.int64)
    raw = totals[group] * weights
    base = np.floor(raw).astype(np.int64)
    left = totals - np.bincount(group, weights=base, minlength=len(totals)).astype(np.int64)
    frac = raw - base
    order = np.lexsort((-frac, group))  # by group, then largest remainder first
    sorted_groups = group[order]
    starts = np.searchsorted(sorted_groups, np.arange(len(totals)))
    rank = np.arange(len(order)) - starts[sorted_groups]
    give = rank < left[sorted_groups]
    base[order[give & (weights[order] > 0)]] += 1
    return base
