"""Connected ad accounts: credentials encrypted at rest, never printed or logged.

A connection is (platform, account id, base URL, credentials). Credentials are a small JSON document,
encrypted with the workspace key (:class:`adpilot.secrets.SecretBox`) before the warehouse sees them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import httpx
import orjson

from adpilot.domain.ids import Platform
from adpilot.errors import ConfigError
from adpilot.ports.platform import Connection
from adpilot.ports.warehouse import ConnectionRecord, Warehouse
from adpilot.secrets import SecretBox

# What each platform needs to authenticate; the first keys are required.
CREDENTIAL_KEYS: dict[Platform, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Platform.META: (("access_token",), ("app_id", "app_secret")),
    Platform.X: (("consumer_key", "consumer_secret", "access_token", "access_token_secret"), ()),
    Platform.TIKTOK: (("access_token",), ("app_id", "secret")),
}

DEFAULT_BASE_URLS = {
    Platform.META: "https://graph.facebook.com",
    Platform.X: "https://ads-api.x.com",
    Platform.TIKTOK: "https://business-api.tiktok.com",
}


def check_credentials(platform: Platform, credentials: Mapping[str, str | None]) -> dict[str, str]:
    required, optional = CREDENTIAL_KEYS[platform]
    missing = [k for k in required if not credentials.get(k)]
    if missing:
        raise ConfigError(f"{platform} credentials: missing {', '.join(missing)}")
    unknown = sorted(set(credentials) - set(required) - set(optional))
    if unknown:
        raise ConfigError(f"{platform} credentials: unknown key(s) {', '.join(unknown)}")
    return {k: str(v) for k, v in credentials.items() if v}


def normalize_account_id(platform: Platform, account_id: str) -> str:
    """Meta accounts are stored as ``act_<digits>``; others as given."""
    account_id = account_id.strip()
    if not account_id:
        raise ConfigError("account: an account id is required")
    if platform is Platform.META and not account_id.startswith("act_"):
        if not account_id.isdigit():
            raise ConfigError(f"account: {account_id!r} is not a Meta ad account id (act_<digits>)")
        account_id = f"act_{account_id}"
    return account_id


class AccountStore:
    def __init__(self, warehouse: Warehouse, box: SecretBox) -> None:
        self.warehouse = warehouse
        self.box = box

    def add(
        self,
        platform: Platform,
        account_id: str,
        credentials: Mapping[str, str | None],
        *,
        base_url: str | None = None,
        name: str | None = None,
        clock_url: str | None = None,
    ) -> Connection:
        creds = check_credentials(platform, credentials)
        account_id = normalize_account_id(platform, account_id)
        url = (base_url or DEFAULT_BASE_URLS[platform]).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url: {url!r} must start with http:// or https://")
        record = ConnectionRecord(
            platform,
            account_id,
            name or account_id,
            url,
            self.box.encrypt(orjson.dumps(creds).decode()),
            "ok",
            None,
            datetime.now(UTC),
            clock_url,
        )
        self.warehouse.save_connection(record)
        return self._open(record)

    def _open(self, record: ConnectionRecord) -> Connection:
        creds = orjson.loads(self.box.decrypt(record.credentials))
        return Connection(
            record.platform,
            record.account_id,
            record.name,
            record.base_url,
            creds,
            record.status,
            record.last_error,
            record.clock_url,
        )

    def all(self, platform: Platform | None = None) -> list[Connection]:
        return [self._open(r) for r in self.warehouse.connections(platform)]

    def remove(self, platform: Platform, account_id: str) -> bool:
        return self.warehouse.delete_connection(platform, normalize_account_id(platform, account_id))

    def mark(self, platform: Platform, account_id: str, status: str, error: str | None = None) -> None:
        self.warehouse.set_connection_status(platform, account_id, status, error)

    def use_sandbox(self, url: str, *, client: httpx.Client | None = None) -> list[Connection]:
        """Point every platform at a running sandbox and add all of its accounts in one step."""
        base = url.rstrip("/")
        own = client is None
        http = client or httpx.Client(timeout=10)
        try:
            response = http.get(f"{base}/_sandbox/credentials")
            response.raise_for_status()
            creds = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ConfigError(f"sandbox: cannot read credentials from {base}/_sandbox/credentials ({exc})") from None
        finally:
            if own:
                http.close()
        added = []
        for platform in Platform:
            data = dict(creds.get(str(platform), {}))
            accounts = data.pop("accounts", [])
            required, optional = CREDENTIAL_KEYS[platform]
            picked = {k: data.get(k) for k in (*required, *optional) if data.get(k)}
            for account_id in accounts:
                added.append(self.add(platform, account_id, picked, base_url=base, clock_url=f"{base}/_sandbox/clock"))
        return added
