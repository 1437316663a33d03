"""Password policy and hashing."""

from __future__ import annotations

import pytest

from tenantry.domain.identity.passwords import PasswordHasher, check_password_policy
from tenantry.errors import InvalidInput

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "password",
    ["a" * 11, "password1234", "PASSWORD1234", "q1w2e3r4t5y6", "xx-johnsmith-xx", "J" * 1025],
)
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_password_policy(password, email="JohnSmith@example.com")
    assert raised.value.code == "weak_password"


@pytest.mark.parametrize("password", ["a" * 12, "🔐" * 12, "jo is fine here", "Z" * 1024])
def test_good_passwords_pass(password: str) -> None:
    check_password_policy(password, email="jo@example.com")


@pytest.mark.catalogue(2)
async def test_hash_verifies_byte_exact_and_unknown_hash_is_false() -> None:
    hasher = PasswordHasher(memory_kib=8192, time_cost=1, parallelism=1)
    try:
        digest = await hasher.hash("café au lait 1")
        assert digest.startswith("$argon2id$")
        assert await hasher.verify(digest, "café au lait 1")
        # The same text in decomposed Unicode is a different password.
        assert not await hasher.verify(digest, "cafe\u0301 au lait 1")
        assert not await hasher.verify(None, "café au lait 1")
        assert not await hasher.verify("not-a-hash", "x")
    finally:
        hasher.close()
