"""Credentials the sandbox accepts, and each platform's authorization flow in sandbox form.

Tokens live in simulated time: a Meta short-lived token expires after 2 hours of the market's clock, a
long-lived one after 60 days. Tokens can be revoked (and restored) through the control API or faults.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adpilot_sandbox.noise import stable_key


def _det_hex(seed: int, *parts: object, n: int = 32) -> str:
    out = ""
    i = 0
    while len(out) < n:
        out += format(stable_key(seed, *parts, i), "016x")
        i += 1
    return out[:n]


@dataclass
class Token:
    value: str
    platform: str
    accounts: tuple[str, ...]  # account ids this token may use (every account of the platform when empty)
    expires_at: datetime | None = None
    revoked: bool = False
    secret: str | None = None  # X access token secret
    kind: str = "system"


class AuthError(Exception):
    """Why a credential was refused: reason ∈ missing, invalid, expired, revoked, forbidden."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Auth:
    seed: int
    accounts: dict[str, list[str]]  # platform -> account ids
    tokens: dict[str, Token] = field(default_factory=dict)
    nonces: set[tuple[str, str]] = field(default_factory=set)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # one-time auth codes / request tokens
    issued: int = 0

    def __post_init__(self) -> None:
        s = self.seed
        self.meta_app_id = str(10**14 + stable_key(s, "meta-app") % 10**14)
        self.meta_app_secret = _det_hex(s, "meta-app-secret")
        self.x_consumer_key = _det_hex(s, "x-consumer-key", n=25)
        self.x_consumer_secret = _det_hex(s, "x-consumer-secret", n=50)
        self.tiktok_app_id = str(7 * 10**18 + stable_key(s, "tiktok-app") % 10**18)
        self.tiktok_secret = _det_hex(s, "tiktok-secret", n=40)
        self.add(Token("EAAB" + _det_hex(s, "meta-token", n=60), "meta", tuple(self.accounts.get("meta", []))))
        user_id = str(10**17 + stable_key(s, "x-user") % 10**17)
        self.add(
            Token(
                f"{user_id}-" + _det_hex(s, "x-token", n=30),
                "x",
                tuple(self.accounts.get("x", [])),
                secret=_det_hex(s, "x-token-secret", n=45),
            )
        )
        self.add(Token(_det_hex(s, "tiktok-token", n=40), "tiktok", tuple(self.accounts.get("tiktok", []))))

    def add(self, token: Token) -> Token:
        self.tokens[token.value] = token
        return token

    def primary(self, platform: str) -> Token:
        return next(t for t in self.tokens.values() if t.platform == platform and t.kind == "system")

    def check(self, platform: str, value: str | None, now: datetime, account_id: str | None = None) -> Token:
        """The token behind ``value``, or an AuthError saying why not."""
        if not value:
            raise AuthError("missing", "no access token was sent")
        token = self.tokens.get(value)
        if token is None or token.platform != platform:
            raise AuthError("invalid", "the access token is not valid")
        if token.revoked:
            raise AuthError("revoked", "the access token has been revoked")
        if token.expires_at is not None and now >= token.expires_at:
            raise AuthError("expired", f"the access token expired at {token.expires_at.isoformat()}")
        if account_id is not None and token.accounts and account_id not in token.accounts:
            raise AuthError("forbidden", f"the token may not access account {account_id}")
        return token

    def meta_proof_ok(self, token: str, proof: str | None) -> bool:
        """``appsecret_proof`` = HMAC-SHA256(app secret, token); optional, but must be right when sent."""
        if proof is None:
            return True
        expected = hmac.new(self.meta_app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, proof)

    def x_secrets(self, consumer_key: str, token_value: str) -> tuple[str, str]:
        """(consumer secret, token secret) for signature checks; request tokens of the flow count too."""
        if consumer_key != self.x_consumer_key:
            raise AuthError("invalid", "unknown consumer key")
        code = self.codes.get(token_value)
        if code is not None and code.get("platform") == "x" and "secret" in code:
            return self.x_consumer_secret, str(code["secret"])
        token = self.tokens.get(token_value)
        if token is None or token.platform != "x" or token.secret is None:
            raise AuthError("invalid", "unknown access token")
        return self.x_consumer_secret, token.secret

    def fresh_nonce(self, nonce: str, timestamp: str) -> bool:
        key = (nonce, timestamp)
        if key in self.nonces:
            return False
        self.nonces.add(key)
        return True

    def set_revoked(self, platform: str, revoked: bool, value: str | None = None) -> int:
        changed = 0
        for t in self.tokens.values():
            if t.platform == platform and value in (None, t.value):
                t.revoked = revoked
                changed += 1
        return changed

    # -- authorization flows ---------------------------------------------------------------------------
    def _next_secret(self, kind: str, n: int) -> str:
        """Deterministic by seed and issue order, so a replayed flow issues the same values."""
        self.issued += 1
        return _det_hex(self.seed, "issued", kind, self.issued, n=n)

    def issue_code(self, platform: str, **data: Any) -> str:
        code = self._next_secret("code", 32)
        self.codes[code] = {"platform": platform, **data}
        return code

    def take_code(self, platform: str, code: str) -> dict[str, Any]:
        data = self.codes.pop(code, None)
        if data is None or data["platform"] != platform:
            raise AuthError("invalid", "the authorization code is invalid or was already used")
        return data

    def mint(
        self, platform: str, *, lifetime: timedelta | None, now: datetime, kind: str, secret: bool = False
    ) -> Token:
        value = ("EAAB" if platform == "meta" else "") + self._next_secret("token", 48)
        if platform == "x":
            value = f"{self.primary('x').value.split('-')[0]}-{self._next_secret('token', 30)}"
        return self.add(
            Token(
                value,
                platform,
                tuple(self.accounts.get(platform, [])),
                None if lifetime is None else now + lifetime,
                secret=self._next_secret("secret", 44) if secret else None,
                kind=kind,
            )
        )

    def credentials(self) -> dict[str, Any]:
        """What `adpilot-sandbox credentials` prints: account ids and the credentials that reach them."""
        return {
            "meta": {
                "accounts": [f"act_{a}" for a in self.accounts.get("meta", [])],
                "access_token": self.primary("meta").value,
                "app_id": self.meta_app_id,
                "app_secret": self.meta_app_secret,
            },
            "x": {
                "accounts": self.accounts.get("x", []),
                "consumer_key": self.x_consumer_key,
                "consumer_secret": self.x_consumer_secret,
                "access_token": self.primary("x").value,
                "access_token_secret": self.primary("x").secret,
            },
            "tiktok": {
                "accounts": self.accounts.get("tiktok", []),
                "access_token": self.primary("tiktok").value,
                "app_id": self.tiktok_app_id,
                "secret": self.tiktok_secret,
            },
        }
