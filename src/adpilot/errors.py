"""adpilot's errors, named by what the caller should do.

* AdpilotError
  * ConfigError: an invalid setting; the message names the key.
  * SecretsError: a missing or wrong encryption key.
  * WarehouseError
    * WarehouseUnavailable: cannot reach the database (host and database named, password masked).
    * MigrationError: a migration failed; the schema is left as it was.
    * InvalidRows: rows refused before writing; the message names the field. Nothing was written.
  * LakeError: a raw page could not be stored or read back.

Expected outcomes (a guardrail rejection, a skipped action) are values, not exceptions.
"""

from __future__ import annotations


class AdpilotError(Exception):
    """Root of every error adpilot raises on purpose."""


class ConfigError(AdpilotError):
    pass


class SecretsError(AdpilotError):
    pass


class WarehouseError(AdpilotError):
    pass


class WarehouseUnavailable(WarehouseError):
    pass


class MigrationError(WarehouseError):
    pass


class InvalidRows(WarehouseError):
    pass


class LakeError(AdpilotError):
    pass
