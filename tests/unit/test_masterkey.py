"""The master key's files through a rotation, the box's previous keys, deferred hasher keys,
and the registry of sealed columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import LargeBinary

from tenantry.domain.identity.masterkey import (
    MASTER_KEY_FILE,
    NEXT_KEY_FILE,
    PREVIOUS_KEY_FILE,
    SecretBox,
    discard_next_key,
    load_or_create_master_key,
    new_master_key,
    promote_next_key,
    read_key_file,
    write_next_key,
)
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.sealing import SEALED_COLUMNS
from tenantry.storage.models import Base

pytestmark = pytest.mark.unit


def test_a_staged_key_is_owner_only_and_promotion_keeps_the_old_key(tmp_path: Path) -> None:
    old, new = load_or_create_master_key(configured=None, data_dir=tmp_path), new_master_key()
    write_next_key(tmp_path, new)
    assert (tmp_path / NEXT_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert read_key_file(tmp_path / MASTER_KEY_FILE) == old

    promote_next_key(tmp_path)
    promote_next_key(tmp_path)  # repeated after a crash, or by a second process: a no-op

    assert load_or_create_master_key(configured=None, data_dir=tmp_path) == new
    assert read_key_file(tmp_path / PREVIOUS_KEY_FILE) == old
    assert (tmp_path / PREVIOUS_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == [MASTER_KEY_FILE, PREVIOUS_KEY_FILE]


def test_a_discarded_key_leaves_the_master_key_alone(tmp_path: Path) -> None:
    old = load_or_create_master_key(configured=None, data_dir=tmp_path)
    write_next_key(tmp_path, new_master_key())
    discard_next_key(tmp_path)
    discard_next_key(tmp_path)
    assert read_key_file(tmp_path / MASTER_KEY_FILE) == old
    assert [path.name for path in tmp_path.iterdir()] == [MASTER_KEY_FILE]
    assert read_key_file(tmp_path / NEXT_KEY_FILE) is None


def test_the_box_seals_under_the_new_key_and_opens_under_the_previous() -> None:
    old, new = b"o" * 32, b"n" * 32
    from_old = SecretBox(old).encrypt(b"secret", context="row:1")
    box = SecretBox(new, previous=(old,))
    assert box.decrypt(from_old, context="row:1") == b"secret"
    with pytest.raises(InvalidTag):
        box.decrypt(from_old, context="row:2")
    sealed = box.encrypt(b"secret", context="row:1")
    assert SecretBox(new).decrypt(sealed, context="row:1") == b"secret"
    with pytest.raises(InvalidTag):
        SecretBox(old).decrypt(sealed, context="row:1")


def test_the_box_switches_keys_in_place() -> None:
    box = SecretBox(b"o" * 32)
    box.use(b"n" * 32)
    assert box.master_key == b"n" * 32
    with pytest.raises(InvalidTag):
        box.decrypt(SecretBox(b"o" * 32).encrypt(b"x", context="c"), context="c")


def test_a_hasher_refuses_to_hash_before_it_has_a_key() -> None:
    hasher = SecretHasher()
    with pytest.raises(RuntimeError):
        hasher.digest("confirm", "a@example.com", "123456")
    hasher.use_key(b"k" * 32)
    assert hasher.digest("x") == SecretHasher(b"k" * 32).digest("x")


def test_every_sealed_looking_column_is_registered_for_rotation() -> None:
    """A new column of sealed bytes must be added to `SEALED_COLUMNS`, or a master-key
    rotation would leave it under the old key."""
    binary = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    registered = {(column.table_name, column.column) for column in SEALED_COLUMNS}
    assert binary == registered


def test_each_registered_column_names_its_row_and_context() -> None:
    for column in SEALED_COLUMNS:
        table = column.table
        assert {*column.keys, column.column} <= set(table.columns.keys())
        assert {key.name for key in table.primary_key} == set(column.keys)
        assert column.context(*("x" for _ in column.keys))
