"""The control API: clock, advance, faults, tokens, truth, oracle, writes, credentials."""

from __future__ import annotations

import httpx

from adpilot_sandbox.sandbox import Sandbox


def test_clock_and_advance(client: httpx.Client) -> None:
    clock = client.get("/_sandbox/clock").json()
    assert clock["today"] == "2026-03-06" and clock["day_index"] == 60
    assert clock["last_complete_day"] == "2026-03-05"
    after = client.post("/_sandbox/advance", json={"days": 3}).json()
    assert after["today"] == "2026-03-09"
    hours = client.post("/_sandbox/advance", json={"hours": 2}).json()
    assert hours["today"] == "2026-03-09" and hours["now"].startswith("2026-03-09T11:00")


def test_advance_refuses_bad_input(client: httpx.Client) -> None:
    for body in ({"days": -1}, {"days": "x"}, {"days": 10_000}):
        r = client.post("/_sandbox/advance", json=body)
        assert r.status_code == 400 and "error" in r.json()
    assert client.post("/_sandbox/advance", content=b"not json").status_code == 400


def test_truth_rows_restate_as_days_pass(client: httpx.Client) -> None:
    day = "2026-03-05"
    before = client.get("/_sandbox/truth", params={"platform": "meta", "since": day, "until": day}).json()["rows"]
    assert before and all(r["date"] == day for r in before)
    assert sum(r["reported_conversions"] for r in before) <= sum(r["delivered_conversions"] for r in before)
    client.post("/_sandbox/advance", json={"days": 10})
    after = client.get("/_sandbox/truth", params={"platform": "meta", "since": day, "until": day}).json()["rows"]
    assert [r["ad_id"] for r in after] == [r["ad_id"] for r in before]
    assert sum(r["reported_conversions"] for r in after) > sum(r["reported_conversions"] for r in before)
    assert [r["spend_minor"] for r in after] == [r["spend_minor"] for r in before]


def test_oracle_summary_and_day(client: httpx.Client) -> None:
    summary = client.get("/_sandbox/oracle", params={"since": "2026-02-01"}).json()
    assert summary["oracle_expected"] > summary["actual_expected"] > 0
    assert 0 < summary["share_of_oracle"] < 1
    day = client.get("/_sandbox/oracle", params={"date": "2026-03-01"}).json()
    assert abs(sum(day["allocation"].values()) - day["budget"]) < 0.05
    assert client.get("/_sandbox/oracle", params={"date": "2030-01-01"}).status_code == 400


def test_faults_and_tokens(client: httpx.Client, sandbox: Sandbox) -> None:
    r = client.post("/_sandbox/faults", json={"meta": {"throttle": 0.5, "latency_ms": 0}})
    assert r.json()["meta"]["throttle"] == 0.5
    assert client.post("/_sandbox/faults", json={"meta": {"nonsense": 1}}).status_code == 400
    assert client.post("/_sandbox/faults", json={"meta": {"throttle": 2}}).status_code == 400
    assert client.post("/_sandbox/faults", json={"meta": None}).json() == {}
    assert client.post("/_sandbox/tokens", json={"platform": "x", "action": "revoke"}).json()["changed"] == 1
    assert sandbox.auth.primary("x").revoked
    client.post("/_sandbox/tokens", json={"platform": "x", "action": "restore"})
    assert not sandbox.auth.primary("x").revoked


def test_credentials_cover_every_account(client: httpx.Client) -> None:
    creds = client.get("/_sandbox/credentials").json()
    assert creds["meta"]["accounts"] == ["act_1000000001"]
    assert creds["tiktok"]["accounts"] == ["7100000000000000001"]
    assert creds["x"]["accounts"] == ["18ce54d4x5t"]
    assert creds["x"]["access_token_secret"] and creds["x"]["consumer_secret"]


def test_unknown_paths_answer_natively(client: httpx.Client) -> None:
    meta = client.get("/v21.0/nope/nothing/here")
    assert meta.status_code in (400, 404) and "error" in meta.json()
    tiktok = client.get("/open_api/v1.3/advertiser/info")  # no trailing slash
    assert tiktok.status_code == 404 and tiktok.text == "404 page not found"
    x = client.get("/12/nowhere/at/all")
    assert x.status_code == 404 and x.json()["errors"][0]["code"] == "NOT_FOUND"
