"""Secrets at rest: the registry of sealed columns, process-wide sealed secrets (the hashing
key), and master-key rotation."""

from tenantry.domain.sealing.master_key_rotation import (
    UnreadableSecrets,
    finish_pending_rotation,
    reseal_all,
    rotate_master_key,
)
from tenantry.domain.sealing.registry import SEALED_COLUMNS, SealedColumn
from tenantry.domain.sealing.stored import (
    HASHING_KEY,
    MasterKeyMismatch,
    load_or_create_hashing_key,
    sealed_secret_context,
)

__all__ = [
    "HASHING_KEY",
    "SEALED_COLUMNS",
    "MasterKeyMismatch",
    "SealedColumn",
    "UnreadableSecrets",
    "finish_pending_rotation",
    "load_or_create_hashing_key",
    "reseal_all",
    "rotate_master_key",
    "sealed_secret_context",
]
