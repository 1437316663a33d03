"""Password policy and Argon2id hashing, off the event loop."""

from __future__ import annotations

import asyncio
import gzip
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import resources

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

from tenantry.domain.lanes import Lane
from tenantry.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 1024
# A local part this short ("jo") would forbid too many passwords to be a useful rule.
MIN_LOCAL_PART_CHECKED = 3


@cache
def common_passwords() -> frozenset[str]:
    data = resources.files("tenantry.domain.identity").joinpath("data/common-passwords.txt.gz")
    return frozenset(gzip.decompress(data.read_bytes()).decode().split())


def check_password_policy(password: str, *, email: str) -> None:
    """Raise `weak_password` for a password that is short, common or built on the email."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Use at least {MIN_LENGTH} characters.", code="weak_password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"Use at most {MAX_LENGTH} characters.", code="weak_password")
    folded = password.casefold()
    if folded in common_passwords() or folded.strip() in common_passwords():
        raise InvalidInput("This password is too common.", code="weak_password")
    local_part = email.rpartition("@")[0].casefold()
    if len(local_part) >= MIN_LOCAL_PART_CHECKED and local_part in folded:
        raise InvalidInput("The password must not contain your email.", code="weak_password")


class PasswordHasher:
    """Argon2id with OWASP-or-stronger parameters, off the event loop on two lanes: logins
    verify on threads as many as the cores, while new hashes (sign-ups, resets, registrations,
    whatever anonymous callers can ask for in bulk) run on half of them behind a bounded
    queue. A flood of new hashes then leaves logins at least half the cores, and is refused
    with `server_busy` once the queue is full rather than piling up."""

    def __init__(
        self, *, memory_kib: int, time_cost: int, parallelism: int, queue: int = 64
    ) -> None:
        self._hasher = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        cores = os.cpu_count() or 1
        self._verify_pool = ThreadPoolExecutor(cores, thread_name_prefix="argon2-verify")
        hash_threads = max(1, cores // 2)
        self._hash_pool = ThreadPoolExecutor(hash_threads, thread_name_prefix="argon2-hash")
        self._hash_lane = Lane(width=hash_threads, queue=queue)
        self._dummy_hash = self._hasher.hash("tenantry-dummy-password")

    async def hash(self, password: str) -> str:
        async with self._hash_lane.admitted():
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._hash_pool, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, burns the same time and says False."""
        target = password_hash or self._dummy_hash
        loop = asyncio.get_running_loop()
        matched = await loop.run_in_executor(self._verify_pool, self._verify, target, password)
        return matched and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._verify_pool.shutdown(wait=False)
        self._hash_pool.shutdown(wait=False)
