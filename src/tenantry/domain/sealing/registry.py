"""Every database column holding a value sealed with the master key, in one place: a rotation
re-encrypts exactly these. A new sealed column is one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from tenantry.domain.idempotency import idempotency_context
from tenantry.domain.identity.keys import signing_key_context
from tenantry.domain.provider.stores import silo_locator_context
from tenantry.domain.sealing.stored import sealed_secret_context
from tenantry.domain.webhooks.signing import secret_context as webhook_secret_context
from tenantry.storage.tables import table


@dataclass(frozen=True)
class SealedColumn:
    """`column` of `table` is sealed; `context(*keys)`, given the values of the `keys` columns
    of its row, is the associated data it was sealed with."""

    table_name: str
    keys: tuple[str, ...]
    column: str
    context: Callable[..., str]

    @property
    def table(self) -> Table:
        return table(self.table_name)

    def context_of(self, row: Any) -> str:
        return self.context(*(row[key] for key in self.keys))


SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    # First: start-up probes it to learn which master key the database uses.
    SealedColumn("sealed_secrets", ("name",), "sealed_value", sealed_secret_context),
    SealedColumn("signing_keys", ("kid",), "private_key_encrypted", signing_key_context),
    SealedColumn("idempotency_records", ("user_id", "key"), "sealed_body", idempotency_context),
    SealedColumn("tenants", ("id",), "silo_locator_sealed", silo_locator_context),
    SealedColumn("store_moves", ("tenant_id",), "old_silo_locator_sealed", silo_locator_context),
    SealedColumn("webhook_endpoints", ("id",), "secret_sealed", webhook_secret_context),
)
