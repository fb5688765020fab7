"""Connected accounts: validated, encrypted at rest, never shown; the sandbox shortcut."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from adpilot.accounts import AccountStore, normalize_account_id
from adpilot.domain import Platform
from adpilot.errors import ConfigError
from adpilot.secrets import SecretBox
from adpilot.warehouse.duckdb import DuckDBWarehouse
from adpilot_sandbox.app import create_app
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.scenario import load_scenario
from adpilot_sandbox.transport import SyncASGITransport


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    wh.migrate()
    return AccountStore(wh, SecretBox(Fernet.generate_key()))


def test_credentials_are_encrypted_and_never_in_repr(store: AccountStore) -> None:
    conn = store.add(Platform.META, "123", {"access_token": "EAAB-secret-token"})
    assert conn.account_id == "act_123"
    assert "EAAB" not in repr(conn)
    (record,) = store.warehouse.connections()
    assert "EAAB" not in record.credentials
    (again,) = store.all()
    assert again.credentials["access_token"] == "EAAB-secret-token"


@pytest.mark.parametrize(
    ("platform", "creds", "message"),
    [
        (Platform.X, {"consumer_key": "k"}, "x credentials: missing consumer_secret, access_token"),
        (Platform.META, {"access_token": "t", "password": "p"}, "unknown key"),
        (Platform.TIKTOK, {}, "tiktok credentials: missing access_token"),
    ],
)
def test_bad_credentials_name_the_key(
    store: AccountStore, platform: Platform, creds: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        store.add(platform, "1", creds)
    assert store.all() == []


def test_account_ids() -> None:
    assert normalize_account_id(Platform.META, "act_9") == "act_9"
    assert normalize_account_id(Platform.X, "18ce54d4x5t") == "18ce54d4x5t"
    with pytest.raises(ConfigError, match="not a Meta ad account id"):
        normalize_account_id(Platform.META, "abc")


def test_remove(store: AccountStore) -> None:
    store.add(Platform.TIKTOK, "7100", {"access_token": "t"})
    assert store.remove(Platform.TIKTOK, "7100") and not store.remove(Platform.TIKTOK, "7100")


def test_use_sandbox_adds_every_account(store: AccountStore) -> None:
    sandbox = Sandbox(load_scenario("demo"))
    with httpx.Client(transport=SyncASGITransport(create_app(sandbox))) as client:
        added = store.use_sandbox("http://sandbox.local:8800/", client=client)
    assert {(c.platform, c.account_id) for c in added} == {
        (Platform.META, "act_1000000001"),
        (Platform.TIKTOK, "7100000000000000001"),
        (Platform.X, "18ce54d4x5t"),
    }
    assert all(c.base_url == "http://sandbox.local:8800" for c in added)
    x = next(c for c in store.all() if c.platform is Platform.X)
    assert set(x.credentials) == {"consumer_key", "consumer_secret", "access_token", "access_token_secret"}


def test_use_sandbox_unreachable_is_a_clear_error(store: AccountStore) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client, pytest.raises(ConfigError, match="sandbox"):
        store.use_sandbox("http://127.0.0.1:9", client=client)
