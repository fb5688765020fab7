"""Offline text variants: every output fits its platform, obeys the brand rules and is no near-duplicate."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adpilot.creative.generate_text import (
    _DANGLING,
    BrandRules,
    Framing,
    SourceCopy,
    TextVariant,
    fit,
    generate_text_variants,
    similarity,
)
from adpilot.creative.specs import SPECS, TextRule, check_text, text_length
from adpilot.domain import Platform

META, X, TIKTOK = Platform.META, Platform.X, Platform.TIKTOK

SHOES = SourceCopy(
    "Dry feet on every trail!",
    "Waterproof trail shoes with a 2-year warranty. Free returns within 30 days.",
    "SHOP_NOW",
    product="Trail Runner 2",
    proof="Rated 4.8 by 2,000 runners",
    deadline="Sunday",
    key="sha256:" + "ab" * 32,
)


def assert_valid(v: TextVariant) -> None:
    for field, text in v.texts.items():
        assert check_text(v.platform, field, text) == [], (field, text)
    assert v.call_to_action in SPECS[v.platform].calls_to_action


# -- the guarantee, over random inputs ---------------------------------------------------------------------------------
words = st.text(
    alphabet=st.sampled_from([*"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789%$#{}!?.,:;-'&", "🙂", "é", "ß"]),
    min_size=1,
    max_size=14,
)
texts = st.lists(st.one_of(words, st.just("https://example.com/a-very/long/path?x=1")), max_size=40).map(" ".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headline=texts.filter(str.strip),
    body=texts,
    product=st.one_of(st.just(""), words),
    proof=st.one_of(st.just(""), texts),
    deadline=st.one_of(st.just(""), words),
    cta=st.sampled_from(["", "SHOP_NOW", "SIGN_UP", "DOWNLOAD", "LEARN_MORE", "BOOK_NOW", "WHATEVER"]),
    platform=st.sampled_from(list(Platform)),
    seed=st.integers(0, 2**32 - 1),
    banned=st.lists(words.filter(lambda w: re.fullmatch(r"\w+", w) is not None), max_size=3, unique=True),
    replace_first=st.booleans(),
    disclaimer=st.sampled_from(["", "Ad.", "#ad T&Cs apply.", "Terms apply. See site for details."]),
)
def test_every_variant_passes_the_specs_and_the_brand_rules(
    headline: str,
    body: str,
    product: str,
    proof: str,
    deadline: str,
    cta: str,
    platform: Platform,
    seed: int,
    banned: list[str],
    replace_first: bool,
    disclaimer: str,
) -> None:
    if any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", disclaimer, re.I) for w in banned):
        return
    rules = BrandRules(
        banned_words=tuple(banned),
        replacements={banned[0]: "okay"} if banned and replace_first else {},
        disclaimer=disclaimer,
    )
    source = SourceCopy(headline, body, cta, product=product, proof=proof, deadline=deadline)
    out = generate_text_variants(source, platform, n=5, seed=seed, rules=rules)
    assert len(out.variants) <= 5
    event("some variants" if out.variants else "no variant")
    unreplaced = [w for w in banned if not (replace_first and w == banned[0])]
    for v in out.variants:
        assert_valid(v)
        for w in unreplaced:
            assert not re.search(rf"(?<!\w){re.escape(w)}(?!\w)", f"{v.headline} {v.body}", re.I)
        if platform is TIKTOK:
            assert v.body.startswith(v.headline)
        if disclaimer:
            assert v.body.endswith(disclaimer.replace("#", "") if platform is TIKTOK else disclaimer)
    assert generate_text_variants(source, platform, n=5, seed=seed, rules=rules) == out


@settings(max_examples=200, deadline=None)
@given(text=texts, limit=st.integers(1, 60))
def test_fit_cuts_only_between_words(text: str, limit: int) -> None:
    rule = TextRule(limit, link_chars=23)
    normalized = re.sub(r"\s+", " ", text).strip()
    out = fit(text, rule)
    if out is None:  # no start of whole words that ends in a real word fits
        words = normalized.split(" ")
        for k in range(1, len(words) + 1):
            last = words[k - 1]
            if any(c.isalnum() for c in last) and last.casefold() not in _DANGLING:
                assert text_length(" ".join(words[:k]), rule) > limit
                break
        return
    assert text_length(out, rule) <= limit
    assert normalized.startswith(out)
    rest = normalized[len(out) :]
    assert rest == "" or not rest[0].isalnum(), "cut inside a word"


# -- behaviour on a realistic brief -----------------------------------------------------------------------------------
@pytest.mark.parametrize("platform", list(Platform))
def test_variants_follow_the_framings_and_keep_lineage(platform: Platform) -> None:
    out = generate_text_variants(SHOES, platform, n=8, seed=3)
    assert len(out.variants) == 8
    assert {v.framing for v in out.variants} == set(Framing)  # taken in turn, so every framing appears
    for v in out.variants:
        assert_valid(v)
        assert v.derived_from == SHOES.key
        assert v.how.startswith(f"template:{v.framing.value}/")
    if platform is TIKTOK:
        assert all(v.body.startswith(v.headline) for v in out.variants)


def test_framings_that_need_a_fact_are_skipped_without_it() -> None:
    bare = SourceCopy("Dry feet on every trail", "Waterproof trail shoes.", "SHOP_NOW")
    out = generate_text_variants(bare, X, n=20, seed=0)
    assert out.variants
    assert {v.framing for v in out.variants} <= {Framing.BENEFIT, Framing.URGENCY, Framing.QUESTION}
    assert not any(re.search(r"\d|ends|until|chance", f"{v.headline} {v.body}", re.I) for v in out.variants)


def test_same_seed_same_variants_other_seeds_other_orders() -> None:
    runs = {tuple(generate_text_variants(SHOES, X, n=6, seed=s).variants) for s in range(6)}
    assert generate_text_variants(SHOES, X, n=6, seed=4) == generate_text_variants(SHOES, X, n=6, seed=4)
    assert len(runs) > 1


def test_meta_headlines_are_cut_at_words_and_uncut_drafts_come_first() -> None:
    out = generate_text_variants(SHOES, META, n=12, seed=0)
    cut = [i for i, v in enumerate(out.variants) if "fit:headline" in v.how]
    uncut = [i for i, v in enumerate(out.variants) if "fit:headline" not in v.how]
    assert cut and uncut and max(uncut) < min(cut)
    for v in out.variants:
        assert len(v.headline) <= 27
        assert v.headline.split(" ")[-1].rstrip("?!.").casefold() not in {"on", "every", "for", "with", "the"}


def test_tiktok_text_has_no_emoji_braces_or_hash() -> None:
    source = SourceCopy("🔥 {New} #1 trail shoe 🔥", "Dry feet #trail", "SHOP_NOW")
    out = generate_text_variants(source, TIKTOK, n=6, seed=1)
    assert out.variants
    for v in out.variants:
        assert_valid(v)
        assert not set(v.body) & set("{}#🔥")


# -- brand rules -------------------------------------------------------------------------------------------------------
def test_banned_word_without_replacement_drops_the_variant_and_with_one_is_replaced() -> None:
    dropped = generate_text_variants(SHOES, X, n=6, seed=0, rules=BrandRules(banned_words=("free",)))
    assert dropped.variants == ()  # every draft repeats the body, which says "Free returns"
    assert {d.reason for d in dropped.dropped} == {"banned word 'free' in body"}

    rules = BrandRules(banned_words=("free", "trail"), replacements={"free": "no-cost", "trail": "path"})
    out = generate_text_variants(SHOES, X, n=6, seed=0, rules=rules)
    assert out.variants
    for v in out.variants:
        assert "No-cost returns" in v.body  # capitalized like the word it replaced
        assert not re.search(r"\b(free|trail)\b", f"{v.headline} {v.body}", re.I)
        assert "brand:" in v.how


def test_disclaimer_is_appended_within_the_limit() -> None:
    disclaimer = "Offer valid in the US only. Terms apply."
    long_body = " ".join(["Waterproof trail shoes with grippy soles."] * 8)
    source = SourceCopy("Dry feet on every trail", long_body, "SHOP_NOW", proof="Rated 4.8 by 2,000 runners")
    for platform in Platform:
        out = generate_text_variants(source, platform, n=4, seed=2, rules=BrandRules(disclaimer=disclaimer))
        assert out.variants
        for v in out.variants:
            assert_valid(v)
            assert v.body.endswith(disclaimer)
            assert "fit:body" in v.how


def test_disclaimer_that_cannot_fit_drops_everything() -> None:
    out = generate_text_variants(SHOES, TIKTOK, n=4, seed=0, rules=BrandRules(disclaimer="x" * 99))
    assert out.variants == ()
    assert out.dropped


def test_brand_rules_refuse_a_disclaimer_with_a_banned_word() -> None:
    with pytest.raises(ValueError, match="disclaimer"):
        BrandRules(banned_words=("free",), disclaimer="Free shipping, terms apply.")
    with pytest.raises(ValueError, match="replacements"):
        BrandRules(banned_words=("free",), replacements={"cheap": "affordable"})


# -- duplicates and calls to action ------------------------------------------------------------------------------------
def test_similarity_sees_re_spaced_and_re_cased_copy_as_the_same() -> None:
    assert similarity("Dry feet on every trail!", "dry  FEET on every trail.") == 1.0
    assert similarity("Dry feet on every trail", "Rated 4.8 by 2,000 runners") < 0.2


@pytest.mark.parametrize("platform", list(Platform))
def test_no_two_variants_are_near_duplicates_nor_copies_of_the_source_or_avoided(platform: Platform) -> None:
    first = generate_text_variants(SHOES, platform, n=4, seed=0)
    avoid = [(v.headline, v.body) for v in first.variants]
    second = generate_text_variants(SHOES, platform, n=4, seed=0, avoid=avoid)
    rules = BrandRules()
    everything = [*first.variants, *second.variants]
    assert len(second.variants) > 0
    for i, a in enumerate(everything):
        assert not all(similarity(a.texts[f], SHOES_TEXT[platform][f]) >= rules.similarity for f in a.texts)
        for b in everything[i + 1 :]:
            assert not all(similarity(a.texts[f], b.texts[f]) >= rules.similarity for f in a.texts), (a, b)


SHOES_TEXT = {
    META: {"headline": SHOES.headline, "body": SHOES.body},
    X: {"headline": SHOES.headline, "body": SHOES.body},
    TIKTOK: {"body": SHOES.headline},
}


@pytest.mark.parametrize(
    ("platform", "cta", "family"),
    [
        (META, "SHOP_NOW", {"SHOP_NOW", "ORDER_NOW", "GET_OFFER", "LEARN_MORE"}),
        (TIKTOK, "SHOP_NOW", {"SHOP_NOW", "ORDER_NOW", "VISIT_STORE", "LEARN_MORE"}),
        (TIKTOK, "DOWNLOAD", {"DOWNLOAD_NOW", "INSTALL_NOW", "LEARN_MORE"}),
        (X, "SIGN_UP", {"SIGN_UP", "LEARN_MORE"}),
    ],
)
def test_calls_to_action_are_swapped_within_their_family(platform: Platform, cta: str, family: set[str]) -> None:
    source = SourceCopy("Dry feet on every trail", "Waterproof trail shoes.", cta, product="Trail Runner 2")
    out = generate_text_variants(source, platform, n=8, seed=5)
    used = {v.call_to_action for v in out.variants}
    assert used == family
    assert all(("cta:" in v.how) == (v.call_to_action != cta) for v in out.variants)
