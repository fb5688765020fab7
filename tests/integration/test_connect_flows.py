"""The "connect account" flows end to end: a served sandbox, a browser that follows redirects, a local callback."""

from __future__ import annotations

import threading

import httpx
import pytest

from adpilot.domain import Platform
from adpilot.platforms.oauth import connect
from adpilot_sandbox.sandbox import Sandbox


def browser(url: str) -> None:
    """What a person's browser does: open the consent page and follow the redirect to the callback."""

    def go() -> None:
        httpx.get(url, follow_redirects=True, timeout=10)

    threading.Thread(target=go, daemon=True).start()


APPS = {
    Platform.META: lambda c: {"app_id": c["app_id"], "app_secret": c["app_secret"]},
    Platform.X: lambda c: {"consumer_key": c["consumer_key"], "consumer_secret": c["consumer_secret"]},
    Platform.TIKTOK: lambda c: {"app_id": c["app_id"], "secret": c["secret"]},
}


@pytest.mark.parametrize("platform", list(Platform), ids=str)
def test_connect_grants_working_credentials(served_demo: tuple[str, Sandbox], platform: Platform) -> None:
    url, sandbox = served_demo
    creds = sandbox.auth.credentials()[str(platform)]
    granted = connect(platform, url, APPS[platform](creds), show_url=browser, timeout=20)
    expected = [a.removeprefix("act_") for a in creds["accounts"]]
    assert [a.removeprefix("act_") for a in granted.account_ids] == expected
    token = sandbox.auth.check(str(platform), granted.credentials["access_token"], sandbox.market.now)
    assert token.kind != "system"  # a token minted by the flow, not the scenario's own


def test_wrong_app_secret_is_refused(served_demo: tuple[str, Sandbox]) -> None:
    url, sandbox = served_demo
    creds = sandbox.auth.credentials()["meta"]
    with pytest.raises(Exception, match="refused"):
        connect(Platform.META, url, {"app_id": creds["app_id"], "app_secret": "wrong"}, show_url=browser, timeout=20)
