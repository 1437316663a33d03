"""Codes, opaque tokens, keyed hashes, the master key and the secret box."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidTag

from tenantry.domain.identity.masterkey import SecretBox, load_or_create_master_key
from tenantry.domain.identity.secrets import SecretHasher, new_code, new_token
from tenantry.domain.pagination import decode_cursor, encode_cursor
from tenantry.errors import MalformedRequest

pytestmark = pytest.mark.unit


def test_codes_are_six_digits_and_tokens_are_long() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 150
    assert len(new_token("rt")) > 40


def test_keyed_hash_depends_on_key_and_every_part() -> None:
    one, two = SecretHasher(b"k1" * 16), SecretHasher(b"k2" * 16)
    digest = one.digest("confirm", "a@example.com", "123456")
    assert one.matches(digest, "confirm", "a@example.com", "123456")
    assert not one.matches(digest, "reset", "a@example.com", "123456")
    assert not two.matches(digest, "confirm", "a@example.com", "123456")


def test_master_key_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    first = load_or_create_master_key(configured=None, data_dir=tmp_path)
    again = load_or_create_master_key(configured=None, data_dir=tmp_path)
    assert first == again and len(first) == 32
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600


def test_secret_box_binds_ciphertext_to_its_context() -> None:
    box = SecretBox(b"m" * 32)
    sealed = box.encrypt(b"private key", context="signing-key:a")
    assert b"private key" not in sealed
    assert box.decrypt(sealed, context="signing-key:a") == b"private key"
    with pytest.raises(InvalidTag):
        box.decrypt(sealed, context="signing-key:b")
    with pytest.raises(InvalidTag):
        SecretBox(b"n" * 32).decrypt(sealed, context="signing-key:a")


def test_cursors_round_trip_and_garbage_is_refused() -> None:
    moment, row_id = datetime.now(UTC), uuid4()
    assert decode_cursor(encode_cursor(moment, row_id)) == (moment, row_id)
    with pytest.raises(MalformedRequest):
        decode_cursor("%%%")
