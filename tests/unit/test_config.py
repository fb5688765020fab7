"""Settings: environment over adpilot.toml over defaults; every error names its key; secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from adpilot.config import load_settings, mask_url
from adpilot.errors import ConfigError


def test_defaults(clean_environment: Path) -> None:
    s = load_settings()
    assert s.data_dir == clean_environment
    assert s.effective_warehouse_url == f"duckdb://{clean_environment / 'warehouse.duckdb'}"
    assert s.reporting_currency == "USD"
    assert s.encryption_key is None


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "adpilot.toml").write_text('reporting_currency = "EUR"\nwarehouse_pool_size = 8\n')
    assert load_settings().reporting_currency == "EUR"
    assert load_settings().warehouse_pool_size == 8
    monkeypatch.setenv("ADPILOT_REPORTING_CURRENCY", "jpy")
    assert load_settings().reporting_currency == "JPY"


def test_config_file_location_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('reporting_currency = "GBP"\n')
    monkeypatch.setenv("ADPILOT_CONFIG_FILE", str(other))
    assert load_settings().reporting_currency == "GBP"


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        (
            "ADPILOT_REPORTING_CURRENCY",
            "XYZ",
            "ADPILOT_REPORTING_CURRENCY: currency: unknown ISO 4217 code 'XYZ'",
        ),
        (
            "ADPILOT_WAREHOUSE_URL",
            "mysql://x/y",
            "ADPILOT_WAREHOUSE_URL: must start with duckdb:// or postgresql://",
        ),
        ("ADPILOT_WAREHOUSE_POOL_SIZE", "0", "ADPILOT_WAREHOUSE_POOL_SIZE"),
        ("ADPILOT_WAREHOUSE_SCHEMA", "Robert'); DROP", "ADPILOT_WAREHOUSE_SCHEMA"),
        ("ADPILOT_LOG_LEVEL", "LOUD", "ADPILOT_LOG_LEVEL"),
    ],
)
def test_invalid_values_name_their_key(monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings()


def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "adpilot.toml").write_text('reporting_curency = "EUR"\n')
    with pytest.raises(ConfigError, match="REPORTING_CURENCY"):
        load_settings()


def test_public_view_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADPILOT_ENCRYPTION_KEY", "s3cr3t-key-material")
    monkeypatch.setenv("ADPILOT_WAREHOUSE_URL", "postgresql://ads:hunter2@db:5432/ads")
    view = load_settings().public_view()
    assert view["encryption_key"] == "**********"
    assert view["warehouse_url"] == "postgresql://ads:***@db:5432/ads"
    assert "hunter2" not in repr(view) and "s3cr3t" not in repr(view)
    assert "s3cr3t" not in repr(load_settings())


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:p@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("duckdb:///tmp/x.duckdb", "duckdb:///tmp/x.duckdb"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
