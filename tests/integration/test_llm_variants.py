"""The model path against a real OpenAI-compatible server started on loopback by the test.

The server answers ``POST /v1/chat/completions`` like the OpenAI API (choices, message, finish_reason,
error objects); the model name picks its behaviour, so each test can meet one kind of reply.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adpilot.creative.generate_text import BrandRules, Framing, SourceCopy
from adpilot.creative.llm import LlmError, LlmReplyError, LlmSettings, generate_text_variants_llm
from adpilot.creative.specs import SPECS, check_text
from adpilot.domain import Platform

KEY = "sk-test-0123456789abcdef"
SOURCE = SourceCopy(
    "Dry feet on every trail!",
    "Waterproof trail shoes with a 2-year warranty.",
    "SHOP_NOW",
    product="Trail Runner 2",
    proof="Rated 4.8 by 2,000 runners",
)

GOOD = [
    {"framing": "question", "headline": "Want dry feet on every trail?", "body": "Waterproof shoes.", "cta": 0},
    {"framing": "social_proof", "headline": "Rated 4.8 by 2,000 runners", "body": "Try them free.", "cta": 1},
    # too long for Meta's 27-character headline: the pipeline cuts it between words
    {"framing": "benefit", "headline": "Trail Runner 2 keeps your feet dry on every trail", "body": "", "cta": 0},
    # a near-duplicate of the first one: dropped
    {"framing": "question", "headline": "Want dry feet on every trail ?", "body": "Waterproof shoes!", "cta": 0},
    # a banned word without a replacement: dropped
    {"framing": "urgency", "headline": "Cheap shoes, start today", "body": "Waterproof.", "cta": 1},
]


def completion(content: str | None, *, finish: str = "stop", refusal: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal is not None:
        message["refusal"] = refusal
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }


def make_app(requests: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            wrong = request.headers.get("authorization", "").removeprefix("Bearer ")
            return JSONResponse({"error": {"message": f"Incorrect API key provided: {wrong}"}}, status_code=401)
        body = await request.json()
        requests.append(body)
        schema = body["response_format"]["json_schema"]["schema"]
        ctas = schema["properties"]["variants"]["items"]["properties"]["call_to_action"]["enum"]
        model = body["model"]
        if model == "good":
            variants = [{**{k: v for k, v in g.items() if k != "cta"}, "call_to_action": ctas[g["cta"]]} for g in GOOD]
            return JSONResponse(completion(json.dumps({"variants": variants})))
        if model == "fenced":
            good = [{**{k: v for k, v in GOOD[0].items() if k != "cta"}, "call_to_action": ctas[0]}]
            return JSONResponse(completion("```json\n" + json.dumps({"variants": good}) + "\n```"))
        if model == "not-json":
            return JSONResponse(completion('{"variants": [{"framing": "question", "headline": "Want dry'))
        if model == "off-schema":
            bad = [{"framing": "question", "headline": "Want dry feet?", "body": "", "call_to_action": ctas[0]}]
            bad.append({"framing": "question", "headline": "Ready?", "body": "", "call_to_action": "BUY_IT_NOW"})
            return JSONResponse(completion(json.dumps({"variants": bad})))
        if model == "missing-key":
            return JSONResponse(completion(json.dumps({"variants": [{"framing": "question", "headline": "Hi"}]})))
        if model == "cut":
            return JSONResponse(completion('{"variants": [', finish="length"))
        if model == "refuse":
            return JSONResponse(completion(None, refusal="I can't help with that."))
        return JSONResponse({"error": {"message": f"The model `{model}` does not exist"}}, status_code=404)

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    requests: list[dict[str, Any]] = []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(make_app(requests), host="127.0.0.1", port=port, log_level="error", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", requests
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def settings_for(base_url: str, model: str, key: str = KEY) -> LlmSettings:
    return LlmSettings(base_url=base_url, model=model, api_key=key, timeout_s=10)


def test_model_variants_pass_the_same_pipeline(
    server: tuple[str, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    base_url, requests = server
    caplog.set_level(logging.DEBUG)
    rules = BrandRules(banned_words=("cheap", "free"), replacements={"free": "at no cost"}, disclaimer="Terms apply.")
    before = len(requests)
    out = generate_text_variants_llm(SOURCE, Platform.META, settings_for(base_url, "good"), n=5, rules=rules)

    assert [v.framing for v in out.variants] == [Framing.QUESTION, Framing.SOCIAL_PROOF, Framing.BENEFIT]
    for v in out.variants:
        for field, text in v.texts.items():
            assert check_text(Platform.META, field, text) == []
        assert v.call_to_action in SPECS[Platform.META].calls_to_action
        assert v.body.endswith("Terms apply.")
        assert v.how.startswith(f"llm:{v.framing.value}")
        assert v.derived_from == SOURCE.derived_from
    assert out.variants[1].body == "Try them at no cost. Terms apply."
    assert out.variants[2].headline == "Trail Runner 2 keeps"  # cut between words, the dangling "your" dropped
    assert sorted(d.reason for d in out.dropped) == ["banned word 'cheap' in headline", "duplicate or near-duplicate"]

    # the request: one chat completion with a strict JSON schema whose enums are the platform's buttons
    assert len(requests) == before + 1
    sent = requests[-1]
    assert sent["model"] == "good"
    fmt = sent["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    item = fmt["json_schema"]["schema"]["properties"]["variants"]["items"]
    assert set(item["properties"]["call_to_action"]["enum"]) <= SPECS[Platform.META].calls_to_action
    assert "cheap" in sent["messages"][0]["content"]  # the model is told the banned words
    # the key travels in the header only: never in logs, reprs or messages
    assert KEY not in caplog.text
    assert KEY not in repr(settings_for(base_url, "good"))
    assert KEY not in json.dumps(sent)


def test_tiktok_model_copy_is_cleaned_of_forbidden_characters(server: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, _ = server
    out = generate_text_variants_llm(SOURCE, Platform.TIKTOK, settings_for(base_url, "good"), n=5)
    assert out.variants
    for v in out.variants:
        assert check_text(Platform.TIKTOK, "body", v.body) == []
        assert v.call_to_action in SPECS[Platform.TIKTOK].calls_to_action


def test_a_fenced_reply_is_accepted(server: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, _ = server
    out = generate_text_variants_llm(SOURCE, Platform.X, settings_for(base_url, "fenced"), n=3)
    assert [v.headline for v in out.variants] == ["Want dry feet on every trail?"]


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        ("not-json", LlmReplyError, r"the reply is not JSON \(Unterminated string"),
        ("off-schema", LlmReplyError, r"reply.variants\[1\].call_to_action: 'BUY_IT_NOW' is not one of"),
        ("missing-key", LlmReplyError, r"reply.variants\[0\]: expected keys \['body', 'call_to_action'"),
        ("cut", LlmReplyError, r"cut off at max_tokens=1500"),
        ("refuse", LlmReplyError, r"the model refused: I can't help with that"),
        ("no-such-model", LlmError, r"answered HTTP 404: The model `no-such-model` does not exist"),
    ],
)
def test_a_bad_reply_raises_a_clear_error_and_emits_nothing(
    server: tuple[str, list[dict[str, Any]]], model: str, error: type[Exception], message: str
) -> None:
    base_url, _ = server
    with pytest.raises(error, match=message):
        generate_text_variants_llm(SOURCE, Platform.META, settings_for(base_url, model), n=5)


def test_a_wrong_key_is_reported_without_echoing_it(server: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, _ = server
    wrong = "sk-wrong-9876543210"
    with pytest.raises(LlmError, match="HTTP 401") as info:
        generate_text_variants_llm(SOURCE, Platform.META, settings_for(base_url, "good", key=wrong), n=2)
    assert wrong not in str(info.value)
    assert "***" in str(info.value)


def test_an_unreachable_endpoint_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(LlmError, match=rf"cannot reach http://127.0.0.1:{port}/v1/chat/completions: ConnectError"):
        generate_text_variants_llm(SOURCE, Platform.X, settings_for(f"http://127.0.0.1:{port}/v1", "good"), n=2)


def test_a_shared_client_is_used_when_given(server: tuple[str, list[dict[str, Any]]]) -> None:
    base_url, _ = server
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]}) as client:
        generate_text_variants_llm(SOURCE, Platform.X, settings_for(base_url, "fenced"), n=1, client=client)
    assert seen == [f"{base_url}/chat/completions"]
