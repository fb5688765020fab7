"""Text variants: copy rewritten along known framings, fitted to a platform's limits, brand rules applied.

Two sources of drafts share one pipeline, so whatever they write meets the same checks:

* :func:`generate_text_variants` (offline): templates per framing (benefit, urgency, social proof,
  question, number) filled from the source copy and the facts given with it. A framing that needs a fact
  the source lacks (a deadline, a proof statement, a number) is skipped rather than invented: an ad must
  not claim what the advertiser did not say. Deterministic for a seed.
* :func:`adpilot.creative.llm.generate_text_variants_llm`: the same request to any OpenAI-compatible
  endpoint, with a JSON schema for the reply.

The pipeline (:func:`finalize`): sanitize (NFKC, control characters; on TikTok no emoji and none of its
forbidden characters) → brand rules (a banned word is replaced when the rules name a replacement, else
the draft is dropped) → fit every field to its limit (whole sentences first, else whole words, never
mid-word) → append the required disclaimer → check with :func:`adpilot.creative.specs.check_text` →
drop duplicates and near-duplicates of the source, of ``avoid`` and of each other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from adpilot.creative.specs import SPECS, TextRule, check_text, text_length
from adpilot.domain.entities import asset_id_for_text, normalize_copy
from adpilot.domain.ids import Platform


class Framing(StrEnum):
    """The angle a variant takes on the same offer."""

    BENEFIT = "benefit"
    URGENCY = "urgency"
    SOCIAL_PROOF = "social_proof"
    QUESTION = "question"
    NUMBER = "number"


@dataclass(frozen=True, slots=True)
class SourceCopy:
    """What variants are written from: a creative's copy, plus facts the advertiser vouches for.

    ``benefit`` defaults to the headline; ``proof`` (e.g. "rated 4.8 by 2,000 runners"), ``deadline``
    (e.g. "Sunday") and a number in any field enable the social-proof, deadline and number framings.
    ``calls_to_action`` lists the buttons the variants may use; empty: the source's own family of buttons.
    """

    headline: str
    body: str = ""
    call_to_action: str = ""
    product: str = ""
    benefit: str = ""
    proof: str = ""
    deadline: str = ""
    calls_to_action: tuple[str, ...] = ()
    key: str | None = None  # the creative or asset it comes from (lineage); default: its copy's asset id

    @property
    def derived_from(self) -> str:
        return self.key or asset_id_for_text(f"{self.headline}\n{self.body}")


@dataclass(frozen=True, slots=True)
class BrandRules:
    """The advertiser's rules for copy (filled from settings by the caller).

    ``replacements`` maps a banned word or phrase to what replaces it; a banned word without one drops the
    variant. ``disclaimer`` is appended to the body (TikTok: the ad text) of every variant, within limits.
    ``similarity``: two variants are near-duplicates when every text field of one is at least this similar
    to the other's (the larger of token and character-trigram Jaccard on normalized text).
    """

    banned_words: tuple[str, ...] = ()
    replacements: Mapping[str, str] = field(default_factory=dict)
    disclaimer: str = ""
    similarity: float = 0.85

    def __post_init__(self) -> None:
        if not 0 < self.similarity <= 1:
            raise ValueError("similarity: must be in (0, 1]")
        unknown = {w.casefold() for w in self.replacements} - {w.casefold() for w in self.banned_words}
        if unknown:
            raise ValueError(f"replacements: {sorted(unknown)} are not banned words")
        for name, text in [("disclaimer", self.disclaimer), *(("replacements", r) for r in self.replacements.values())]:
            hit = _banned_in(text, self.banned_words)
            if hit:
                raise ValueError(f"{name}: {text!r} contains the banned word {hit!r}")


@dataclass(frozen=True, slots=True)
class TextVariant:
    """One generated copy variant for one platform, with its lineage.

    On TikTok the ad text is the only text field: ``body`` holds it (what TikTok's launch sends) and
    ``headline`` its lead, the headline part alone (for image overlays and reports).
    """

    platform: Platform
    headline: str
    body: str
    call_to_action: str
    framing: Framing
    derived_from: str
    how: str  # e.g. "template:urgency/2 cta:SHOP_NOW->ORDER_NOW fit:headline"

    @property
    def texts(self) -> dict[str, str]:
        """The variant's text per spec field of its platform (what :func:`check_text` is given)."""
        fields = SPECS[self.platform].texts
        if "headline" not in fields:
            return {"body": self.body}
        return {"headline": self.headline, "body": self.body}

    @property
    def copy_id(self) -> str:
        """Content address of the copy (``sha256:`` of normalized text), as the asset library stores it."""
        return asset_id_for_text(" ".join(dict.fromkeys(self.texts.values())))


@dataclass(frozen=True, slots=True)
class Dropped:
    """A draft that did not become a variant, and why."""

    headline: str
    body: str
    reason: str


@dataclass(frozen=True, slots=True)
class TextVariants:
    variants: tuple[TextVariant, ...]
    dropped: tuple[Dropped, ...]


@dataclass(frozen=True, slots=True)
class Draft:
    """Copy before the pipeline: any source (templates, a model) produces these."""

    framing: Framing
    headline: str
    body: str
    call_to_action: str
    how: str


# -- offline templates ---------------------------------------------------------------------------------------------
# Slots: {headline} {body} {product} {benefit} {proof} {deadline} {number}; a capitalized slot ({Benefit})
# starts a sentence. A template is used only when every slot it names has a value. Bodies are sentences.
_TEMPLATES: dict[Framing, tuple[tuple[str, tuple[str, ...]], ...]] = {
    Framing.BENEFIT: (
        ("{Benefit}", ("{body}",)),
        ("Get {benefit}", ("{body}",)),
        ("{Product}: {benefit}", ("{body}",)),
        ("{Benefit} with {product}", ("{body}",)),
    ),
    Framing.URGENCY: (
        ("Start today: {benefit}", ("{body}",)),
        ("{Headline}. Start today", ("{body}",)),
        ("{Benefit}, until {deadline}", ("{body}", "Offer ends {deadline}")),
        ("Last chance: {benefit}", ("{body}", "Ends {deadline}")),
    ),
    Framing.SOCIAL_PROOF: (
        ("{Proof}", ("{Headline}", "{body}")),
        ("{Product}: {proof}", ("{body}",)),
        ("{Headline}", ("{Proof}", "{body}")),
        ("{Benefit}, {proof}", ("{body}",)),
    ),
    Framing.QUESTION: (
        ("Want {benefit}?", ("{body}",)),
        ("Ready for {benefit}?", ("{body}",)),
        ("Looking for {product}?", ("{Headline}", "{body}")),
        ("Why wait for {benefit}?", ("{body}",)),
    ),
    Framing.NUMBER: (
        ("{Number}: {benefit}", ("{body}",)),
        ("{Benefit}, {number}", ("{body}",)),
        ("{Product}: {number}", ("{body}",)),
    ),
}
_SLOT = re.compile(r"\{(\w+)\}")
_NUMBER = re.compile(
    r"(?P<cur>[$€£¥]\s?)?(?P<num>\d(?:[\d,.]*\d)?)(?P<pct>\s?%)?"
    r"(?:(?P<sep>[\s-])(?P<word>[^\W\d_]+)(?:\s(?P<next>[^\W\d_]+))?)?"
)

# Buttons that promise the same next step: a swap stays within the source's family (plus LEARN_MORE, which
# suits every offer). Platform names differ (Meta DOWNLOAD is TikTok DOWNLOAD_NOW), hence the families.
_CTA_FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({"SHOP_NOW", "ORDER_NOW", "GET_OFFER", "VISIT_STORE"}),
    frozenset({"SIGN_UP", "SUBSCRIBE"}),
    frozenset({"BOOK_NOW", "BOOK_TRAVEL"}),
    frozenset({"GET_QUOTE", "CONTACT_US", "APPLY_NOW"}),
    frozenset({"DOWNLOAD", "DOWNLOAD_NOW", "INSTALL_MOBILE_APP", "INSTALL_NOW"}),
    frozenset({"LEARN_MORE", "READ_MORE", "WATCH_MORE", "WATCH_NOW", "VIEW_NOW", "VISIT_SITE"}),
)


def candidate_ctas(source: SourceCopy, platform: Platform) -> list[str]:
    """The calls to action a variant of ``source`` may use on ``platform`` (sorted; never empty)."""
    allowed = SPECS[platform].calls_to_action
    if source.calls_to_action:
        wanted = {c.strip().upper() for c in source.calls_to_action}
    else:
        own = source.call_to_action.strip().upper()
        family = next((f for f in _CTA_FAMILIES if own in f), frozenset({own} if own else ()))
        wanted = set(family) | {"LEARN_MORE"}
    return sorted(wanted & allowed) or ["LEARN_MORE"]


def generate_text_variants(
    source: SourceCopy,
    platform: Platform,
    *,
    n: int = 6,
    seed: int = 0,
    rules: BrandRules | None = None,
    framings: Sequence[Framing] = tuple(Framing),
    avoid: Iterable[tuple[str, str]] = (),
) -> TextVariants:
    """Up to ``n`` offline variants of ``source`` for ``platform``, the framings taken in turn.

    Deterministic for ``seed``. Drafts whose headline fits without cutting come first. ``avoid``: (headline,
    body) of copy already live or generated before; near-duplicates of it (and of the source) are dropped.
    """
    rng = np.random.default_rng(seed)
    slots = _slots(source)
    queues: list[list[tuple[int, str, tuple[str, ...]]]] = []
    for framing in framings:
        usable = [(i, h, b) for i, (h, b) in enumerate(_TEMPLATES[framing]) if _fillable((h, *b), slots)]
        queues.append([usable[j] for j in rng.permutation(len(usable))])
    ctas = candidate_ctas(source, platform)
    ctas = [ctas[j] for j in rng.permutation(len(ctas))]
    drafts: list[Draft] = []
    for r in range(max((len(q) for q in queues), default=0)):
        for framing, queue in zip(framings, queues, strict=True):
            if r >= len(queue):
                continue
            i, head, body = queue[r]
            body_text = _sentences(_fill(b, slots) for b in body)
            drafts.append(Draft(framing, _fill(head, slots), body_text, "", f"template:{framing.value}/{i}"))
    limit = SPECS[platform].texts.get("headline", SPECS[platform].texts["body"])
    drafts.sort(key=lambda d: text_length(sanitize(d.headline, platform), limit) > limit.max_chars)
    return finalize(drafts, platform, source, rules or BrandRules(), n=n, avoid=avoid, rotate_ctas=ctas)


# -- the shared pipeline -------------------------------------------------------------------------------------------
def finalize(
    drafts: Iterable[Draft],
    platform: Platform,
    source: SourceCopy,
    rules: BrandRules,
    *,
    n: int,
    avoid: Iterable[tuple[str, str]] = (),
    rotate_ctas: Sequence[str] = (),
) -> TextVariants:
    """Drafts → variants that pass every check, in order, at most ``n``; the rest dropped with a reason.

    A draft without a call to action takes the next of ``rotate_ctas`` in turn, so kept variants spread
    over the buttons whatever was dropped.
    """
    allowed = SPECS[platform].calls_to_action
    own_cta = source.call_to_action.strip().upper()
    disclaimer = sanitize(rules.disclaimer, platform)
    # the source as it would read under the same rules: a variant that only fixes a banned word is no variant
    own = [(apply_brand_rules(sanitize(t, platform), rules)[0] or t) for t in (source.headline, source.body)]
    seen = [shape for h, b in [own, (source.headline, source.body), *avoid] for shape in _shapes(h, b, platform)]
    kept: list[TextVariant] = []
    dropped: list[Dropped] = []
    for d in drafts:
        if len(kept) >= n:
            break
        cta = d.call_to_action or (rotate_ctas[len(kept) % len(rotate_ctas)] if rotate_ctas else "")
        how = d.how + (f" cta:{own_cta or '-'}->{cta}" if cta != own_cta else "")
        d = replace(d, call_to_action=cta, how=how)
        if d.call_to_action not in allowed:
            dropped.append(Dropped(d.headline, d.body, f"call to action {d.call_to_action!r} not allowed"))
            continue
        reason, variant, core = _finish(d, platform, source, rules, disclaimer)
        if variant is not None:
            shape = tuple(_tokens(t) for t in core)
            if any(_near_duplicate(shape, s, rules.similarity) for s in seen):
                reason, variant = "duplicate or near-duplicate", None
            else:
                seen.append(shape)
        if variant is None:
            dropped.append(Dropped(d.headline, d.body, reason))
        else:
            kept.append(variant)
    return TextVariants(tuple(kept), tuple(dropped))


def _finish(
    d: Draft, platform: Platform, source: SourceCopy, rules: BrandRules, disclaimer: str
) -> tuple[str, TextVariant | None, tuple[str, ...]]:
    """One draft through sanitizing, brand rules, fitting and the spec check: (reason, variant, its copy per
    field without the disclaimer, for duplicate checks)."""
    texts = SPECS[platform].texts
    how = [d.how]
    parts: dict[str, str] = {}
    for name, raw in (("headline", d.headline), ("body", d.body)):
        clean = sanitize(raw, platform)
        text, changed = apply_brand_rules(clean, rules)
        if text is None:
            return f"banned word {_banned_in(clean, rules.banned_words)!r} in {name}", None, ()
        if changed:
            how.append(f"brand:{name}")
        parts[name] = text
    body_rule = texts["body"]
    if "headline" in texts:
        headline = fit(parts["headline"], texts["headline"])
        if not headline:
            return "headline empty or does not fit", None, ()
        if headline != parts["headline"]:
            how.append("fit:headline")
        body_text = parts["body"]
    else:  # TikTok: one ad text, the headline first and the body after it when both fit
        headline = ""
        both = _sentences([parts["headline"], parts["body"]])
        body_text = both if _fits(both, body_rule, disclaimer) else _sentences([parts["headline"]]) or both
    body = fit(body_text, _less(body_rule, disclaimer), allow_empty=bool(headline))
    if body is None:
        return "body does not fit beside the disclaimer", None, ()
    if body != (body_text if headline else _sentences([parts["headline"], parts["body"]])):
        how.append("fit:body")
    core = (headline, body) if headline else (body,)
    if not body and not headline:
        return "no copy left", None, ()
    lead = headline or (parts["headline"] if parts["headline"] and body.startswith(parts["headline"]) else body)
    body = f"{body} {disclaimer}".strip()
    variant = TextVariant(platform, lead, body, d.call_to_action, d.framing, source.derived_from, " ".join(how))
    problems = [str(v) for f, t in variant.texts.items() for v in check_text(platform, f, t)]
    if problems:  # the steps above should make this impossible; never emit what a platform would refuse
        return "; ".join(problems), None, ()
    return "", variant, core


# -- building blocks -----------------------------------------------------------------------------------------------
def sanitize(text: str, platform: Platform) -> str:
    """NFKC, no control characters, single spaces; on platforms that refuse them, no emoji or banned characters."""
    rule = SPECS[platform].texts.get("body")
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn") and not ch.isspace():
            continue
        if rule is not None and rule.no_emoji and (cat in ("So", "Sk") or 0x1F000 <= ord(ch) <= 0x1FAFF):
            continue
        if rule is not None and ch in rule.forbidden:
            continue
        out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def apply_brand_rules(text: str, rules: BrandRules) -> tuple[str | None, bool]:
    """``text`` with banned words replaced, or None if one has no replacement; and whether it changed."""
    replacements = {k.casefold(): v for k, v in rules.replacements.items()}
    changed = False
    for word in sorted(rules.banned_words, key=len, reverse=True):
        pattern = _word_pattern(word)
        if not pattern.search(text):
            continue
        new = replacements.get(word.casefold())
        if new is None:
            return None, False
        text = pattern.sub(_replacer(new), text)
        changed = True
    return re.sub(r"\s+", " ", text).strip(), changed


def fit(text: str, rule: TextRule, *, allow_empty: bool = False) -> str | None:
    """The longest start of ``text`` that fits ``rule``: whole sentences if that keeps half the room, else
    whole words (never part of one), trailing connectives dropped. None if not even one word fits."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return "" if allow_empty or rule.min_chars == 0 else None
    if text_length(text, rule) <= rule.max_chars:
        return text if text_length(text, rule) >= rule.min_chars else None
    kept = ""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        candidate = f"{kept} {sentence}".strip()
        if text_length(candidate, rule) > rule.max_chars:
            break
        kept = candidate
    if text_length(kept, rule) * 2 < rule.max_chars:
        words: list[str] = []
        for word in text.split(" "):
            if text_length(" ".join([*words, word]), rule) > rule.max_chars:
                break
            words.append(word)
        while words and (words[-1].casefold() in _DANGLING or not any(c.isalnum() for c in words[-1])):
            words.pop()
        if words:
            words[-1] = words[-1].rstrip(",;:-–—/&(")
        kept = " ".join(w for w in words if w)
    if not kept or text_length(kept, rule) < rule.min_chars:
        return None
    return kept


_DANGLING = frozenset(
    {"a", "an", "the", "and", "or", "but", "nor", "of", "to", "for", "with", "without", "on", "in", "at", "by"}
    | {"from", "into", "your", "our", "my", "their", "its", "is", "are", "be", "as", "than", "that", "this", "so"}
    | {"if", "&", "every", "each", "any", "some", "more", "very", "just", "not", "no", "+"}
)


def similarity(a: str, b: str) -> float:
    """How alike two copies read: the larger of word-set and character-trigram Jaccard on normalized text."""
    return _similarity(_tokens(a), _tokens(b))


def _similarity(a: frozenset[str], b: frozenset[str]) -> float:
    words_a, words_b = {t for t in a if t.startswith("w:")}, {t for t in b if t.startswith("w:")}
    return max(_jaccard(words_a, words_b), _jaccard(a - words_a, b - words_b))


def _near_duplicate(a: tuple[frozenset[str], ...], b: tuple[frozenset[str], ...], threshold: float) -> bool:
    return len(a) == len(b) and all(_similarity(x, y) >= threshold for x, y in zip(a, b, strict=True))


def _shapes(headline: str, body: str, platform: Platform) -> list[tuple[frozenset[str], ...]]:
    """A copy as it compares on ``platform``: per field; TikTok's one text as the headline, with or without body."""
    if "headline" in SPECS[platform].texts:
        return [(_tokens(headline), _tokens(body))]
    return [(_tokens(headline),), (_tokens(_sentences([headline, body])),)]


def _jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _tokens(text: str) -> frozenset[str]:
    words = re.findall(r"\w+", normalize_copy(text))
    joined = " ".join(words)
    grams = {joined[i : i + 3] for i in range(max(len(joined) - 2, 0))} or {joined}
    return frozenset({f"w:{w}" for w in words} | {f"c:{g}" for g in grams})


def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(p) for p in word.split()) + r"(?!\w)", re.IGNORECASE)


def _banned_in(text: str, banned: Iterable[str]) -> str | None:
    text = unicodedata.normalize("NFKC", text)
    return next((w for w in banned if _word_pattern(w).search(text)), None)


def _replacer(new: str) -> Callable[[re.Match[str]], str]:
    """Replace a match with ``new``, capitalized when the match began with a capital."""

    def one(m: re.Match[str]) -> str:
        return new[:1].upper() + new[1:] if m.group(0)[:1].isupper() else new

    return one


def _less(rule: TextRule, disclaimer: str) -> TextRule:
    """The rule with room left for ``" " + disclaimer`` at the end."""
    if not disclaimer:
        return rule
    room = rule.max_chars - text_length(disclaimer, rule) - 1
    return TextRule(max(room, 0), 0, rule.link_chars, rule.no_emoji, rule.forbidden)


def _fits(text: str, rule: TextRule, disclaimer: str) -> bool:
    return text_length(f"{text} {disclaimer}".strip(), rule) <= rule.max_chars


def _sentences(parts: Iterable[str]) -> str:
    """Join parts as sentences: each ends with punctuation, empty parts skipped."""
    out = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        out.append(p if p[-1] in ".!?…" else p + ".")
    return " ".join(out)


def _slots(source: SourceCopy) -> dict[str, str]:
    headline = source.headline.strip().rstrip(".!?…").strip()
    proof = source.proof.strip().rstrip(".!").strip()
    number = next((p for t in (proof, headline, source.body) for m in _NUMBER.finditer(t) if (p := _number(m))), "")
    protected = set(re.findall(r"\w+", source.product))
    benefit = source.benefit.strip().rstrip(".!?").strip() or headline
    return {
        "headline": headline,
        "body": source.body.strip(),
        "product": source.product.strip(),
        "benefit": _lower_first(benefit, protected),
        "proof": _lower_first(proof, protected),
        "deadline": source.deadline.strip().rstrip("."),
        "number": number,
    }


def _number(m: re.Match[str]) -> str:
    """A number with what it counts ("20% off", "$15", "2,000 runners", "2-year warranty"), or "" if bare."""
    word, after = m.group("word") or "", m.group("next") or ""
    if m.group("cur") or m.group("pct"):
        amount = (m.group("cur") or "") + m.group("num") + (m.group("pct") or "")
        return amount + (" off" if word.casefold() == "off" else "")
    if not word or len(word) < 2 or word.casefold() in _DANGLING:
        return ""
    if m.group("sep") == "-" and after and after.casefold() not in _DANGLING:
        return f"{m.group('num')}-{word} {after}"
    return f"{m.group('num')}{m.group('sep')}{word}"


def _lower_first(text: str, protected: set[str]) -> str:
    """Lower-case a first word capitalized only because it began a sentence (not "iPhone", "USA" or the product)."""
    first = text.split(" ", 1)[0]
    if first and first[0].isupper() and first[1:].islower() and first not in protected:
        return first[0].lower() + text[1:]
    return text


def _fillable(templates: Iterable[str], slots: Mapping[str, str]) -> bool:
    return all(slots.get(name.lower()) for t in templates for name in _SLOT.findall(t))


def _fill(template: str, slots: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        value = slots[m.group(1).lower()]
        return value[:1].upper() + value[1:] if m.group(1)[0].isupper() else value

    return _SLOT.sub(one, template)
