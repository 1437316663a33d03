"""Mailed one-time codes: one live code per email and purpose, 10 minutes, single use, and
burned after the allowed tries. Every try is counted before it is checked, so parallel guesses
cannot exceed the allowance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.identity.secrets import SecretHasher, new_code
from tenantry.errors import MalformedRequest
from tenantry.storage.models import EmailCode


def invalid_code() -> MalformedRequest:
    return MalformedRequest("The code is wrong, expired or already used.", code="invalid_code")


@dataclass(frozen=True)
class CodePolicy:
    ttl: timedelta
    max_attempts: int


@dataclass(frozen=True)
class UsedCode:
    id: uuid.UUID
    password_hash: str | None


async def issue_code(
    session: AsyncSession,
    *,
    hasher: SecretHasher,
    policy: CodePolicy,
    email_key: str,
    purpose: str,
    now: datetime,
    password_hash: str | None = None,
    ttl: timedelta | None = None,
) -> str:
    """Supersede any live code for this email and purpose and store a new one (hashed), alive
    for `ttl` (else the policy's)."""
    await session.execute(
        update(EmailCode)
        .where(
            EmailCode.email_key == email_key,
            EmailCode.purpose == purpose,
            EmailCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    code = new_code()
    session.add(
        EmailCode(
            id=uuid.uuid4(),
            email_key=email_key,
            purpose=purpose,
            code_hash=hasher.digest(purpose, email_key, code),
            password_hash=password_hash,
            attempts=0,
            expires_at=now + (ttl or policy.ttl),
            created_at=now,
        )
    )
    return code


async def use_code(
    session: AsyncSession,
    *,
    hasher: SecretHasher,
    policy: CodePolicy,
    email_key: str,
    purpose: str,
    code: str,
    now: datetime,
) -> UsedCode | None:
    """Count a try against the live codes and, if `code` matches one, mark it used. Returns
    None for a wrong, expired, used or burned code; the caller commits either way so the try
    stays counted."""
    live = and_(
        EmailCode.email_key == email_key,
        EmailCode.purpose == purpose,
        EmailCode.used_at.is_(None),
        EmailCode.expires_at > now,
        EmailCode.attempts < policy.max_attempts,
    )
    counted = (
        await session.execute(
            update(EmailCode)
            .where(live)
            .values(attempts=EmailCode.attempts + 1)
            .returning(EmailCode.id, EmailCode.code_hash, EmailCode.password_hash)
        )
    ).all()
    for code_id, code_hash, password_hash in counted:
        if hasher.matches(code_hash, purpose, email_key, code):
            claimed = await session.execute(
                update(EmailCode)
                .where(EmailCode.id == code_id, EmailCode.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                return UsedCode(id=code_id, password_hash=password_hash)
    return None


async def has_live_code(
    session: AsyncSession, *, email_key: str, purpose: str, now: datetime
) -> bool:
    found = await session.scalar(
        select(EmailCode.id)
        .where(
            EmailCode.email_key == email_key,
            EmailCode.purpose == purpose,
            EmailCode.used_at.is_(None),
            EmailCode.expires_at > now,
        )
        .limit(1)
    )
    return found is not None
