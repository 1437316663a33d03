"""Password policy and hashing."""

from __future__ import annotations

import asyncio
import os

import pytest

from tenantry.domain.identity.passwords import PasswordHasher, check_password_policy
from tenantry.errors import Busy, InvalidInput

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


async def test_new_hashes_past_the_queue_are_refused_as_busy() -> None:
    """The admissions are counted before the first await, so a burst is cut exactly."""
    hasher = PasswordHasher(memory_kib=8192, time_cost=1, parallelism=1, queue=2)
    try:
        capacity = max(1, (os.cpu_count() or 1) // 2) + 2  # the hashing threads, the queue
        outcomes = await asyncio.gather(
            *(hasher.hash(f"password number {n}") for n in range(capacity + 5)),
            return_exceptions=True,
        )
        refused = [outcome for outcome in outcomes if isinstance(outcome, Busy)]
        assert len(refused) == 5
        assert {error.code for error in refused} == {"server_busy"}
        assert await hasher.hash("admitted again once the queue drained")
    finally:
        hasher.close()


async def test_verifications_do_not_wait_behind_new_hashes() -> None:
    """Logins verify on their own lane: one finishes while a queue of costly hashes runs."""
    hasher = PasswordHasher(memory_kib=65_536, time_cost=4, parallelism=1)
    try:
        stored = await hasher.hash("the login's password")
        # Six rounds of the hash lane (half the cores wide) whatever the machine.
        flood = 3 * (os.cpu_count() or 1)
        queued = [asyncio.ensure_future(hasher.hash(f"flood {n}")) for n in range(flood)]
        assert await hasher.verify(stored, "the login's password")
        # Behind the queue (one lane for both) it would finish after every hash; by order,
        # not by the clock, so that a loaded machine cannot make it flaky.
        hashed_first = sum(hashing.done() for hashing in queued)
        await asyncio.gather(*queued)
        assert hashed_first < len(queued) / 2, hashed_first
    finally:
        hasher.close()
