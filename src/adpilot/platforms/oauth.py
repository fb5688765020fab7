"""Each platform's authorization flow, run against a local callback: the "connect account" step.

* Meta: ``/dialog/oauth`` → ``code`` → ``/oauth/access_token`` (short-lived) → ``fb_exchange_token``
  (long-lived, about 60 days).
* X: three-legged OAuth 1.0a: ``/oauth/request_token`` → ``/oauth/authorize`` → ``/oauth/access_token``,
  every request signed by oauthlib.
* TikTok: ``/portal/auth`` → ``auth_code`` → ``/open_api/v1.3/oauth2/access_token/``.

The person opens the printed authorization URL in a browser; the platform redirects to
``http://127.0.0.1:<port>/callback`` where this module waits.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from oauthlib.oauth1 import Client as OAuth1Client  # type: ignore[import-untyped]

from adpilot.domain.ids import Platform
from adpilot.platforms.errors import AccountFatal
from adpilot.platforms.meta.settings import API_VERSION as META_VERSION

AUTH_HOSTS = {  # where the person approves, when the API base is the real platform
    Platform.META: "https://www.facebook.com",
    Platform.X: "https://api.x.com",
    Platform.TIKTOK: "https://business-api.tiktok.com",
}


@dataclass(frozen=True)
class Granted:
    platform: Platform
    credentials: dict[str, str]
    account_ids: list[str]


class CallbackServer:
    """A one-shot HTTP server on 127.0.0.1 that captures the query of the first /callback request."""

    def __init__(self, port: int = 0) -> None:
        received: dict[str, str] = {}
        done = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/callback":
                    self.send_response(404)
                    self.end_headers()
                    return
                received.update({k: v[0] for k, v in parse_qs(parts.query).items()})
                self.send_response(200)
                self.send_header("content-type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(b"adpilot: authorization received, you can close this tab.\n")
                done.set()

            def log_message(self, format: str, *args: Any) -> None:
                return None  # never log the query: it carries codes

        self.received = received
        self.done = done
        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/callback"

    def __enter__(self) -> CallbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, timeout: float) -> dict[str, str]:
        if not self.done.wait(timeout):
            raise AccountFatal("oauth", f"no authorization arrived at {self.url} within {timeout:.0f} s")
        return dict(self.received)


def _auth_base(api_base: str, platform: Platform) -> str:
    """The sandbox serves its consent pages on its API host; the real platforms on their own."""
    real = {"graph.facebook.com", "ads-api.x.com", "ads-api.twitter.com", "business-api.tiktok.com"}
    return AUTH_HOSTS[platform] if urlsplit(api_base).hostname in real else api_base.rstrip("/")


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise AccountFatal("oauth", f"{what} refused (HTTP {response.status_code}): {response.text[:200]}")
    return response


def connect(
    platform: Platform,
    api_base: str,
    app: dict[str, str],
    *,
    show_url: Callable[[str], None],
    timeout: float = 300.0,
    client: httpx.Client | None = None,
) -> Granted:
    """Run the platform's flow; ``app`` holds the app credentials (Meta app_id/app_secret, X consumer key and
    secret, TikTok app_id/secret). Returns the credentials to store and the account ids they reach."""
    http = client or httpx.Client(timeout=30)
    try:
        with CallbackServer() as callback:
            if platform is Platform.META:
                return _meta(api_base, app, callback, show_url, timeout, http)
            if platform is Platform.X:
                return _x(api_base, app, callback, show_url, timeout, http)
            return _tiktok(api_base, app, callback, show_url, timeout, http)
    finally:
        if client is None:
            http.close()


def _meta(
    base: str, app: dict[str, str], cb: CallbackServer, show: Callable[[str], None], timeout: float, http: httpx.Client
) -> Granted:
    state = secrets.token_urlsafe(16)
    root = f"{base.rstrip('/')}/{META_VERSION}"
    show(
        f"{_auth_base(base, Platform.META)}/{META_VERSION}/dialog/oauth?"
        + urlencode(
            {"client_id": app["app_id"], "redirect_uri": cb.url, "state": state, "scope": "ads_read,ads_management"}
        )
    )
    got = cb.wait(timeout)
    if got.get("state") != state or "code" not in got:
        raise AccountFatal("meta", "authorization failed: " + got.get("error_description", "state mismatch"))
    short = _check(
        http.get(
            f"{root}/oauth/access_token",
            params={
                "client_id": app["app_id"],
                "client_secret": app["app_secret"],
                "redirect_uri": cb.url,
                "code": got["code"],
            },
        ),
        "code exchange",
    ).json()["access_token"]
    long = _check(
        http.get(
            f"{root}/oauth/access_token",
            params={
                "grant_type": "fb_exchange_token",
                "client_id": app["app_id"],
                "client_secret": app["app_secret"],
                "fb_exchange_token": short,
            },
        ),
        "long-lived token exchange",
    ).json()["access_token"]
    accounts = _check(http.get(f"{root}/me/adaccounts", params={"access_token": long, "fields": "id"}), "account list")
    ids = [str(a["id"]) for a in accounts.json().get("data", [])]
    return Granted(Platform.META, {"access_token": long, "app_id": app["app_id"], "app_secret": app["app_secret"]}, ids)


def _x(
    base: str, app: dict[str, str], cb: CallbackServer, show: Callable[[str], None], timeout: float, http: httpx.Client
) -> Granted:
    root = base.rstrip("/")
    signer = OAuth1Client(app["consumer_key"], app["consumer_secret"], callback_uri=cb.url)
    url, headers, _ = signer.sign(f"{root}/oauth/request_token", "POST")
    body = parse_qs(_check(http.post(url, headers=headers), "request token").text)
    token, token_secret = body["oauth_token"][0], body["oauth_token_secret"][0]
    show(f"{_auth_base(base, Platform.X)}/oauth/authorize?" + urlencode({"oauth_token": token}))
    got = cb.wait(timeout)
    if got.get("oauth_token") != token or "oauth_verifier" not in got:
        raise AccountFatal("x", "authorization failed or was denied")
    signer = OAuth1Client(
        app["consumer_key"], app["consumer_secret"], token, token_secret, verifier=got["oauth_verifier"]
    )
    url, headers, _ = signer.sign(f"{root}/oauth/access_token", "POST")
    granted = parse_qs(_check(http.post(url, headers=headers), "access token").text)
    creds = {
        "consumer_key": app["consumer_key"],
        "consumer_secret": app["consumer_secret"],
        "access_token": granted["oauth_token"][0],
        "access_token_secret": granted["oauth_token_secret"][0],
    }
    signer = OAuth1Client(
        creds["consumer_key"], creds["consumer_secret"], creds["access_token"], creds["access_token_secret"]
    )
    url, headers, _ = signer.sign(f"{root}/12/accounts", "GET")
    ids = [str(a["id"]) for a in _check(http.get(url, headers=headers), "account list").json().get("data", [])]
    return Granted(Platform.X, creds, ids)


def _tiktok(
    base: str, app: dict[str, str], cb: CallbackServer, show: Callable[[str], None], timeout: float, http: httpx.Client
) -> Granted:
    state = secrets.token_urlsafe(16)
    show(
        f"{_auth_base(base, Platform.TIKTOK)}/portal/auth?"
        + urlencode({"app_id": app["app_id"], "state": state, "redirect_uri": cb.url})
    )
    got = cb.wait(timeout)
    code = got.get("auth_code") or got.get("code")
    if got.get("state") != state or not code:
        raise AccountFatal("tiktok", "authorization failed or was denied")
    body = _check(
        http.post(
            f"{base.rstrip('/')}/open_api/v1.3/oauth2/access_token/",
            json={"app_id": app["app_id"], "secret": app["secret"], "auth_code": code},
        ),
        "token",
    ).json()
    if body.get("code") != 0:
        raise AccountFatal("tiktok", f"token exchange refused: {body.get('message')} (code {body.get('code')})")
    data = body["data"]
    creds = {"access_token": data["access_token"], "app_id": app["app_id"], "secret": app["secret"]}
    return Granted(Platform.TIKTOK, creds, [str(a) for a in data.get("advertiser_ids", [])])
