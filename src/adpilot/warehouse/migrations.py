"""Versioned schema migrations, written once for both engines.

``{ts}`` becomes each engine's UTC timestamp type. ``{insights_key}`` is the primary key of
``insights`` on PostgreSQL and nothing on DuckDB: there an ART index makes a window replacement
15x slower, and uniqueness of (platform, account, day, ad) already holds by construction, since
every write is a validated window replacement (no duplicate pairs, every row inside the window,
the window deleted first in the same transaction). A migration runs inside one transaction together
with its row in ``schema_migrations``: it applies whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_ENTITY_COMMON = "platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "entities, insights, history, bookmarks, audit, fx",
        (
            f"""CREATE TABLE accounts (
                {_ENTITY_COMMON}, name VARCHAR NOT NULL, currency VARCHAR(3) NOT NULL,
                timezone VARCHAR NOT NULL, status VARCHAR NOT NULL, platform_status VARCHAR NOT NULL,
                updated_at {{ts}} NOT NULL, PRIMARY KEY (platform, account_id))""",
            f"""CREATE TABLE campaigns (
                {_ENTITY_COMMON}, campaign_id VARCHAR NOT NULL, name VARCHAR NOT NULL,
                status VARCHAR NOT NULL, platform_status VARCHAR NOT NULL, currency VARCHAR(3) NOT NULL,
                objective VARCHAR NOT NULL, daily_budget_minor BIGINT,
                updated_at {{ts}} NOT NULL, PRIMARY KEY (platform, campaign_id))""",
            f"""CREATE TABLE ad_sets (
                {_ENTITY_COMMON}, campaign_id VARCHAR NOT NULL, ad_set_id VARCHAR NOT NULL,
                name VARCHAR NOT NULL, status VARCHAR NOT NULL, platform_status VARCHAR NOT NULL,
                currency VARCHAR(3) NOT NULL, daily_budget_minor BIGINT, bid_minor BIGINT,
                optimization_goal VARCHAR NOT NULL,
                updated_at {{ts}} NOT NULL, PRIMARY KEY (platform, ad_set_id))""",
            f"""CREATE TABLE ads (
                {_ENTITY_COMMON}, campaign_id VARCHAR NOT NULL, ad_set_id VARCHAR NOT NULL,
                ad_id VARCHAR NOT NULL, name VARCHAR NOT NULL, status VARCHAR NOT NULL,
                platform_status VARCHAR NOT NULL, creative_id VARCHAR,
                updated_at {{ts}} NOT NULL, PRIMARY KEY (platform, ad_id))""",
            f"""CREATE TABLE creatives (
                {_ENTITY_COMMON}, creative_id VARCHAR NOT NULL, name VARCHAR NOT NULL, asset_id VARCHAR,
                headline VARCHAR NOT NULL, body VARCHAR NOT NULL, call_to_action VARCHAR NOT NULL,
                link_url VARCHAR NOT NULL,
                updated_at {{ts}} NOT NULL, PRIMARY KEY (platform, creative_id))""",
            """CREATE TABLE assets (
                asset_id VARCHAR NOT NULL PRIMARY KEY, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
                text VARCHAR, width INTEGER, height INTEGER, duration_ms BIGINT,
                updated_at {ts} NOT NULL)""",
            "CREATE SEQUENCE entity_changes_id START 1",
            """CREATE TABLE entity_changes (
                id BIGINT NOT NULL DEFAULT nextval('entity_changes_id') PRIMARY KEY,
                platform VARCHAR NOT NULL, level VARCHAR NOT NULL, entity_id VARCHAR NOT NULL,
                account_id VARCHAR NOT NULL, field VARCHAR NOT NULL, old_value VARCHAR, new_value VARCHAR,
                changed_at {ts} NOT NULL, source VARCHAR NOT NULL)""",
            "CREATE INDEX entity_changes_entity ON entity_changes (platform, level, entity_id)",
            """CREATE TABLE insights (
                platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, campaign_id VARCHAR NOT NULL,
                ad_set_id VARCHAR NOT NULL, ad_id VARCHAR NOT NULL, day DATE NOT NULL,
                impressions BIGINT NOT NULL, clicks BIGINT NOT NULL, spend_minor BIGINT NOT NULL,
                currency VARCHAR(3) NOT NULL, conversions DECIMAL(18, 6) NOT NULL,
                conversion_value_minor BIGINT NOT NULL, attribution_setting VARCHAR NOT NULL
                {insights_key})""",
            """CREATE TABLE sync_state (
                platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, stream VARCHAR NOT NULL,
                state VARCHAR NOT NULL, updated_at {ts} NOT NULL,
                PRIMARY KEY (platform, account_id, stream))""",
            "CREATE SEQUENCE audit_log_id START 1",
            """CREATE TABLE audit_log (
                id BIGINT NOT NULL DEFAULT nextval('audit_log_id') PRIMARY KEY, occurred_at {ts} NOT NULL,
                actor VARCHAR NOT NULL, kind VARCHAR NOT NULL, subject VARCHAR NOT NULL,
                details VARCHAR NOT NULL)""",
            """CREATE TABLE fx_rates (
                day DATE NOT NULL, base VARCHAR(3) NOT NULL, quote VARCHAR(3) NOT NULL,
                rate DECIMAL(28, 12) NOT NULL, PRIMARY KEY (day, base, quote))""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        2,
        "platform connections with encrypted credentials",
        (
            """CREATE TABLE connections (
                platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, name VARCHAR NOT NULL,
                base_url VARCHAR NOT NULL, credentials VARCHAR NOT NULL, status VARCHAR NOT NULL,
                last_error VARCHAR, updated_at {ts} NOT NULL, PRIMARY KEY (platform, account_id))""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        3,
        "connections may follow a simulated clock (the sandbox's)",
        ("ALTER TABLE connections ADD COLUMN clock_url VARCHAR",),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        4,
        "the agent's action ledger",
        (
            # One row per decision (action_id = the action's idempotency key); JSON documents as text.
            """CREATE TABLE agent_actions (
                action_id VARCHAR NOT NULL PRIMARY KEY, cycle_id VARCHAR NOT NULL, policy VARCHAR NOT NULL,
                kind VARCHAR NOT NULL, platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL,
                level VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, action VARCHAR NOT NULL,
                evidence VARCHAR NOT NULL, expected_impact VARCHAR NOT NULL, mode VARCHAR NOT NULL,
                state VARCHAR NOT NULL, rule VARCHAR, reason VARCHAR, before_state VARCHAR NOT NULL,
                after_state VARCHAR NOT NULL, error VARCHAR, created_at {ts} NOT NULL, updated_at {ts} NOT NULL,
                expires_at {ts}, decided_by VARCHAR, rollback_of VARCHAR, applied_at {ts})""",
            "CREATE INDEX agent_actions_state ON agent_actions (state, created_at)",
        ),
    ),
)

# The asset library (docs/creatives.md): fingerprint, lineage and provenance columns on assets; tags;
# the files (versions) each asset was recognised in; platform image references already resolved; each
# synced creative's parts as assets; and asset performance as views both engines share.
_ASSET_COLUMNS = (
    "format VARCHAR",
    "size_bytes BIGINT",
    "phash BIGINT",  # 64-bit perceptual hash, stored signed
    "grid VARCHAR",  # hex of the 16 x 16 RGB mean-colour grid that confirms a perceptual match
    "palette VARCHAR",
    "parent_id VARCHAR",
    "derivation VARCHAR",
    "source VARCHAR",
    "created_at {ts}",
)
# Each creative's parts as assets: the library's links, and the image id a creative row carries (for
# creatives written without links); a link of the same role wins.
_CREATIVE_ASSET_MAP = """CREATE VIEW creative_asset_map AS
    SELECT platform, account_id, creative_id, role, asset_id, match FROM creative_assets
    UNION ALL
    SELECT c.platform, c.account_id, c.creative_id, 'image', c.asset_id, 'exact' FROM creatives c
    WHERE c.asset_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM creative_assets l
        WHERE l.platform = c.platform AND l.creative_id = c.creative_id AND l.role = 'image')"""
# Daily ad rows by the assets their ads show: an ad counts toward every asset it shows.
_ASSET_PERFORMANCE = """CREATE VIEW asset_performance AS
    SELECT m.asset_id, m.role, i.platform, i.account_id, i.campaign_id, i.ad_set_id, i.ad_id, i.day,
        i.currency, i.impressions, i.clicks, i.spend_minor, i.conversions, i.conversion_value_minor
    FROM insights i
    JOIN ads a ON a.platform = i.platform AND a.ad_id = i.ad_id
    JOIN creative_asset_map m ON m.platform = a.platform AND m.creative_id = a.creative_id"""

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        5,
        "the asset library: fingerprints, lineage, tags, versions, image references, creative links",
        (
            *(f"ALTER TABLE assets ADD COLUMN {column}" for column in _ASSET_COLUMNS),
            """CREATE TABLE asset_tags (
                asset_id VARCHAR NOT NULL, tag VARCHAR NOT NULL, source VARCHAR NOT NULL,
                PRIMARY KEY (asset_id, tag))""",
            """CREATE TABLE asset_versions (
                sha256 VARCHAR NOT NULL PRIMARY KEY, asset_id VARCHAR NOT NULL, match VARCHAR NOT NULL,
                distance INTEGER NOT NULL, format VARCHAR, width INTEGER, height INTEGER, size_bytes BIGINT,
                source VARCHAR NOT NULL, first_seen {ts} NOT NULL)""",
            """CREATE TABLE asset_image_refs (
                platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, ref VARCHAR NOT NULL,
                asset_id VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, updated_at {ts} NOT NULL,
                PRIMARY KEY (platform, account_id, ref))""",
            """CREATE TABLE creative_assets (
                platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, creative_id VARCHAR NOT NULL,
                role VARCHAR NOT NULL, asset_id VARCHAR NOT NULL, match VARCHAR NOT NULL,
                updated_at {ts} NOT NULL, PRIMARY KEY (platform, creative_id, role))""",
            _CREATIVE_ASSET_MAP,
            _ASSET_PERFORMANCE,
        ),
    ),
    Migration(
        6,
        "ad sets' learning phase as the platform reports it (Meta; null elsewhere)",
        ("ALTER TABLE ad_sets ADD COLUMN learning VARCHAR",),
    ),
)

LATEST_VERSION = max(m.version for m in MIGRATIONS)
