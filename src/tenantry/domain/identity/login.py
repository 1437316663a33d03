"""Password login, refresh-token rotation and logout (SPEC §4)."""

from __future__ import annotations

from tenantry.domain.identity.deps import IdentityDeps, TokenPair, email_key
from tenantry.domain.identity.sessions import (
    ClientInfo,
    revoke_sessions,
    rotate,
    session_for_refresh_token,
)
from tenantry.domain.identity.throttle import clear_failures, reserve_attempt
from tenantry.errors import PermissionDenied, Unauthenticated
from tenantry.storage.models import User


def invalid_credentials() -> Unauthenticated:
    return Unauthenticated("Incorrect email or password.", code="invalid_credentials")


class LoginFlow:
    def __init__(self, deps: IdentityDeps) -> None:
        self._d = deps

    async def login(self, *, email: str, password: str, client: ClientInfo) -> TokenPair:
        """Unknown email and wrong password fail alike, after the same Argon2 work; the
        unconfirmed state is told only to someone who knows the password. The attempt is
        counted before the password is checked, so parallel guesses cannot slip past the
        lockout; a correct password clears the count."""
        key = email_key(email)
        async with self._d.db.transaction() as session:
            await reserve_attempt(
                session, policy=self._d.lockout, email_key=key, now=self._d.clock.now()
            )
            user = await self._d.user_by_email(session, email)
        matched = await self._d.passwords.verify(user.password_hash if user else None, password)
        if not matched or user is None or user.disabled_at is not None:
            raise invalid_credentials()
        pair: TokenPair | None = None
        async with self._d.db.transaction() as session:
            await clear_failures(session, email_key=key)
            if user.email_verified:
                pair = await self._d.sign_in(session, user=user, client=client)
        if pair is None:
            raise PermissionDenied("Confirm your email address first.", code="email_not_confirmed")
        return pair

    async def refresh(self, *, refresh_token: str) -> TokenPair:
        pair: TokenPair | None = None
        async with self._d.db.transaction() as session:
            rotation = await rotate(session, token=refresh_token, now=self._d.clock.now())
            user = await session.get(User, rotation.user_id) if rotation.user_id else None
            usable = user is not None and user.email_verified and user.disabled_at is None
            if user is not None and usable and rotation.session_id and rotation.refresh_token:
                pair = TokenPair(
                    self._d.access_token(user, rotation.session_id),
                    self._d.tokens.ttl,
                    rotation.refresh_token,
                )
        if pair is None:
            raise Unauthenticated(
                "The refresh token is invalid or revoked.", code="invalid_refresh_token"
            )
        return pair

    async def logout(self, *, refresh_token: str) -> None:
        """Revoke the refresh token's whole session; unknown tokens are ignored."""
        async with self._d.db.transaction() as session:
            session_id = await session_for_refresh_token(session, token=refresh_token)
            if session_id is not None:
                await revoke_sessions(session, now=self._d.clock.now(), session_id=session_id)
