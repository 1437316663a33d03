"""Shapes shared by every part of the REST API: field types and the list envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

from tenantry.domain.identity.addresses import normalize_email

T = TypeVar("T")


# No control characters: Unicode's Cc (C0, DEL, C1) spelled out rather than `\P{Cc}`, which
# the OpenAPI's clients (schemathesis, Python's `re`) cannot read. PostgreSQL refuses NUL.
CONTROL_FREE = r"^[^\x00-\x1f\x7f-\x9f]*$"
Email = Annotated[str, Field(max_length=320), AfterValidator(normalize_email)]
# A display name: trimmed, not blank, no control characters.
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=CONTROL_FREE)]
TenantName = Annotated[Label, Field(max_length=200)]
# A person's name on their profile.
DisplayName = Annotated[Label, Field(max_length=200)]
# Login-like routes take any string, so a malformed address fails like an unknown one; but
# not control characters, which no address has and PostgreSQL cannot compare with.
EmailLike = Annotated[str, Field(min_length=1, max_length=320, pattern=CONTROL_FREE)]
# The policy check rejects over 1024 characters with `weak_password`; this only bounds input.
Password = Annotated[str, Field(min_length=1, max_length=4096)]
Code = Annotated[str, Field(min_length=1, max_length=32)]
Name = Annotated[str, Field(max_length=200, pattern=CONTROL_FREE)]

# Instants a request may name. Year 1 at +01:00 lies before `datetime.min` in UTC and year 9999
# at -01:00 after `datetime.max`, so converting them overflowed (a 500). Nothing Tenantry keeps
# predates the Unix epoch, and a day below the end leaves room for every UTC offset.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    return value.astimezone(UTC)


BoundedDatetime = Annotated[AwareDatetime, AfterValidator(_in_range)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class Accepted(BaseModel):
    status: str
