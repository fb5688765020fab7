"""The optional model path: any OpenAI-compatible endpoint writes copy variants as structured output.

``POST {base_url}/chat/completions`` with ``response_format`` of type ``json_schema`` (strict), so the
reply is an object the code can check field by field. Whatever the model writes then goes through the
same pipeline as the offline generator (:func:`adpilot.creative.generate_text.finalize`): brand rules,
platform limits, the spec check and near-duplicate removal. A failed request or a reply off the schema
raises :class:`LlmError` and nothing is emitted. The API key is sent as a bearer token and nowhere else:
not in logs, reprs or error messages.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from adpilot.creative.generate_text import (
    BrandRules,
    Draft,
    Framing,
    SourceCopy,
    TextVariants,
    candidate_ctas,
    finalize,
)
from adpilot.creative.specs import SPECS
from adpilot.domain.ids import Platform
from adpilot.errors import AdpilotError

log = logging.getLogger(__name__)


class LlmError(AdpilotError):
    """The model endpoint failed or could not be reached; nothing was generated."""


class LlmReplyError(LlmError):
    """The model answered, but not with what the schema asks for; nothing was generated."""


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """Where the model is and how to ask it (filled from settings by the caller)."""

    base_url: str  # e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1
    model: str
    api_key: str = field(default="", repr=False)
    timeout_s: float = 60.0
    temperature: float = 0.8
    max_tokens: int = 1500

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url: must start with http:// or https://")
        if not self.model:
            raise ValueError("model: required")
        if self.timeout_s <= 0 or self.max_tokens < 1:
            raise ValueError("timeout_s and max_tokens: must be positive")


def chat_json(
    settings: LlmSettings,
    system: str,
    user: str,
    schema_name: str,
    schema: dict[str, Any],
    *,
    client: httpx.Client | None = None,
) -> Any:
    """One chat completion constrained to ``schema``; the parsed JSON object the model returned."""
    url = settings.base_url.rstrip("/") + "/chat/completions"
    payload = {
        "model": settings.model,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "strict": True, "schema": schema},
        },
    }
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    started = time.monotonic()
    try:
        if client is None:
            with httpx.Client(timeout=settings.timeout_s) as own:
                response = own.post(url, json=payload, headers=headers)
        else:
            response = client.post(url, json=payload, headers=headers, timeout=settings.timeout_s)
    except httpx.HTTPError as exc:
        raise LlmError(f"cannot reach {url}: {type(exc).__name__}") from exc
    log.info("model %s answered HTTP %s in %.1f s", settings.model, response.status_code, time.monotonic() - started)
    if response.status_code != 200:
        raise LlmError(f"{url} answered HTTP {response.status_code}: {_redact(_error_text(response), settings)}")
    try:
        data = response.json()
        choice = data["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LlmReplyError(f"{url}: not a chat completion (no choices[0].message)") from None
    if message.get("refusal"):
        raise LlmReplyError(f"the model refused: {_redact(str(message['refusal']), settings)[:200]}")
    if choice.get("finish_reason") == "length":
        raise LlmReplyError(f"the reply was cut off at max_tokens={settings.max_tokens}")
    content = message.get("content")
    if not isinstance(content, str):
        raise LlmReplyError("the reply has no text content")
    try:
        return json.loads(_unfence(content))
    except json.JSONDecodeError as exc:
        raise LlmReplyError(f"the reply is not JSON ({exc.msg} at character {exc.pos})") from None


def _unfence(text: str) -> str:
    """Some compatible servers wrap JSON in a Markdown code fence even when asked for a schema."""
    text = text.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3].strip()
        text = text.removeprefix("json").strip()
    return text


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return str(body["error"].get("message", ""))[:300]
    except ValueError:
        pass
    return response.text[:300]


def _redact(text: str, settings: LlmSettings) -> str:
    return text.replace(settings.api_key, "***") if settings.api_key else text


def generate_text_variants_llm(
    source: SourceCopy,
    platform: Platform,
    settings: LlmSettings,
    *,
    n: int = 6,
    rules: BrandRules | None = None,
    framings: Sequence[Framing] = tuple(Framing),
    avoid: Iterable[tuple[str, str]] = (),
    client: httpx.Client | None = None,
) -> TextVariants:
    """Up to ``n`` variants written by a model behind an OpenAI-compatible endpoint, then the same pipeline.

    Raises :class:`LlmError` when the endpoint fails or its reply does not match the schema; then nothing
    is emitted. ``client``: an ``httpx.Client`` to reuse (optional).
    """
    rules = rules or BrandRules()
    ctas = candidate_ctas(source, platform)
    schema = _reply_schema(framings, ctas)
    system, user = _system_prompt(platform, rules), _user_prompt(source, n, framings, ctas)
    reply = chat_json(settings, system, user, "ad_copy_variants", schema, client=client)
    drafts = _parse_reply(reply, framings, ctas)
    return finalize(drafts, platform, source, rules, n=n, avoid=avoid)


# -- the copy request ------------------------------------------------------------------------------------------------
def _reply_schema(framings: Sequence[Framing], ctas: Sequence[str]) -> dict[str, Any]:
    """JSON schema of the reply, in the strict subset structured outputs accept (all keys required)."""
    item = {
        "type": "object",
        "properties": {
            "framing": {"type": "string", "enum": [f.value for f in framings]},
            "headline": {"type": "string"},
            "body": {"type": "string"},
            "call_to_action": {"type": "string", "enum": list(ctas)},
        },
        "required": ["framing", "headline", "body", "call_to_action"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"variants": {"type": "array", "items": item}},
        "required": ["variants"],
        "additionalProperties": False,
    }


def _system_prompt(platform: Platform, rules: BrandRules) -> str:
    texts = SPECS[platform].texts
    limits = ", ".join(
        f"{name} at most {r.max_chars} characters" for name, r in texts.items() if name in ("headline", "body")
    )
    lines = [
        "You write variants of advertising copy. Keep the offer and every fact exactly as given; never invent "
        "prices, numbers, deadlines, reviews or claims. Each variant takes one framing: benefit (what the reader "
        "gets), urgency (act now; mention a deadline only if one is given), social_proof (only proof given in the "
        "facts), question (the headline asks), number (only numbers given in the facts).",
        f"Platform: {platform.value}; {limits}.",
    ]
    if "headline" not in texts:
        lines.append("This platform has one ad text: put it in headline and leave body empty.")
    rule = texts.get("body")
    if rule is not None and rule.no_emoji:
        lines.append(f"No emoji and none of these characters: {rule.forbidden}")
    if rules.banned_words:
        lines.append("Never use these words: " + ", ".join(rules.banned_words) + ".")
    if rules.disclaimer:
        lines.append("A disclaimer is appended automatically; do not write one.")
    return "\n".join(lines)


def _user_prompt(source: SourceCopy, n: int, framings: Sequence[Framing], ctas: Sequence[str]) -> str:
    facts = {
        k: v
        for k, v in {
            "headline": source.headline,
            "body": source.body,
            "product": source.product,
            "benefit": source.benefit,
            "proof": source.proof,
            "deadline": source.deadline,
            "call_to_action": source.call_to_action,
        }.items()
        if v
    }
    lines = [f"{k}: {v}" for k, v in facts.items()]
    return (
        f"Write {n} distinct variants of this ad, framings among {', '.join(f.value for f in framings)}, "
        f"each with a call to action among {', '.join(ctas)}.\n" + "\n".join(lines)
    )


def _parse_reply(reply: Any, framings: Sequence[Framing], ctas: Sequence[str]) -> list[Draft]:
    """The model's variants as drafts; any item off the schema rejects the whole reply (nothing half-used)."""
    if not isinstance(reply, dict) or not isinstance(reply.get("variants"), list):
        raise LlmReplyError("reply: expected an object with a 'variants' list")
    keys = {"framing", "headline", "body", "call_to_action"}
    allowed_framings = {f.value for f in framings}
    drafts = []
    for i, item in enumerate(reply["variants"]):
        where = f"reply.variants[{i}]"
        if not isinstance(item, dict) or set(item) != keys:
            got = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise LlmReplyError(f"{where}: expected keys {sorted(keys)}, got {got}")
        bad = [k for k in sorted(keys) if not isinstance(item[k], str)]
        if bad:
            raise LlmReplyError(f"{where}.{bad[0]}: expected a string")
        if item["framing"] not in allowed_framings:
            raise LlmReplyError(f"{where}.framing: {item['framing']!r} is not one of {sorted(allowed_framings)}")
        if item["call_to_action"] not in ctas:
            raise LlmReplyError(f"{where}.call_to_action: {item['call_to_action']!r} is not one of {list(ctas)}")
        framing = Framing(item["framing"])
        drafts.append(Draft(framing, item["headline"], item["body"], item["call_to_action"], f"llm:{framing.value}"))
    return drafts
