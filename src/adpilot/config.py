"""Settings: environment (``ADPILOT_*``) over an optional ``adpilot.toml`` over defaults.

Loaded once by :func:`load_settings` in the entry point and passed down; nothing here runs at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adpilot.domain.money import CurrencyError, check_currency
from adpilot.errors import ConfigError

ENV_PREFIX = "ADPILOT_"
CONFIG_FILE_ENV = "ADPILOT_CONFIG_FILE"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("adpilot", appauthor=False))


ApprovalModeName = Literal["auto", "approve", "dry-run"]


class AgentSettings(BaseModel):
    """The agent's goal, policies, approvals and guardrails (``[agent]`` in adpilot.toml,
    ``ADPILOT_AGENT__<NAME>`` in the environment)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policies: str = Field(default="adpilot", description="adpilot, or a baseline: uniform, seed-rules, …")
    objective: Literal["conversions", "value"] = "conversions"
    total_daily_budget: float | None = Field(default=None, gt=0, description="Reporting currency; default: today's.")
    target_cpa: float | None = Field(default=None, gt=0)
    target_roas: float | None = Field(default=None, gt=0)
    seed: int = 0
    window_days: int = Field(default=60, ge=14, le=400)
    rules_file: Path | None = None
    generation: bool = Field(
        default=False,
        description="Offer the creative policies new ads to launch: the untried combinations of each ad set's "
        "headlines (its own and new copy variants), images and buttons that the element model proposes.",
    )
    default_approval: ApprovalModeName = "auto"
    approvals: dict[str, ApprovalModeName] = Field(
        default_factory=dict, description="Per policy (budget, creative, fatigue) or rule (rule:NAME)."
    )
    approval_ttl_hours: float = Field(default=24.0, gt=0)
    max_change: float = Field(default=0.2, gt=0, le=1)
    max_changes_per_day: int = Field(default=50, ge=0)
    cooldown_hours: float = Field(default=20.0, ge=0)
    budget_floor: float | None = Field(default=1.0, ge=0)
    budget_ceiling: float | None = Field(default=None, gt=0)
    total_daily_cap: float | None = Field(default=None, gt=0)
    allowed_accounts: list[str] | None = None
    protect_learning: bool = True
    learning_max_change: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="The largest budget or bid edit an ad set still learning takes (0: none while it learns).",
    )
    max_launches_per_ad_set_per_week: int = Field(default=2, ge=0)
    kill_switch: bool = False
    checkpoint_url: str | None = Field(
        default=None, description="sqlite:///path or postgresql://…; default: agent-checkpoints.sqlite in data_dir."
    )


class Settings(BaseSettings):
    """Every setting adpilot reads. Environment keys are ``ADPILOT_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir, description="Where the warehouse, lake and key live.")
    warehouse_url: str | None = Field(
        default=None,
        description="duckdb:///path/file.duckdb or postgresql://user:pass@host:port/db.",
    )
    warehouse_schema: str = Field(default="adpilot", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    warehouse_pool_size: int = Field(default=4, ge=1, le=64)
    reporting_currency: str = "USD"
    encryption_key: SecretStr | None = Field(
        default=None, description="Fernet key for secrets at rest; default: the key file in data_dir."
    )
    lake_enabled: bool = True
    agent: AgentSettings = Field(default_factory=AgentSettings)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().absolute()

    @field_validator("reporting_currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        try:
            return check_currency(v.upper())
        except CurrencyError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("warehouse_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        scheme = urlsplit(v).scheme
        if scheme not in ("duckdb", "postgresql", "postgres"):
            raise ValueError("must start with duckdb:// or postgresql://")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get(CONFIG_FILE_ENV, "adpilot.toml")
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    # -- derived values ----------------------------------------------------------------------------------
    @property
    def effective_warehouse_url(self) -> str:
        return self.warehouse_url or f"duckdb://{self.data_dir / 'warehouse.duckdb'}"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "adpilot.key"

    def public_view(self) -> dict[str, Any]:
        """The effective configuration with every secret masked, for display."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, BaseModel):
                value = value.model_dump(mode="json")
            out[name] = value
        out["warehouse_url"] = mask_url(self.effective_warehouse_url)
        return out


def mask_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` → ``postgresql://u:***@h/db``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one :class:`ConfigError` that names each key."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ENV_PREFIX + "__".join(str(p) for p in err["loc"]).upper()
            problems.append(f"{key}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
