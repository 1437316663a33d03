"""Shapes shared by every part of the REST API: field types and the list envelope (names' rules
are the domain's, in `tenantry.domain.names`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from tenantry.domain.identity.addresses import normalize_email
from tenantry.domain.names import CONTROL_FREE

T = TypeVar("T")

Email = Annotated[str, Field(max_length=320), AfterValidator(normalize_email)]
# Login-like routes take any string, so a malformed address fails like an unknown one; but
# not control characters, which no address has and PostgreSQL cannot compare with.
EmailLike = Annotated[str, Field(min_length=1, max_length=320, pattern=CONTROL_FREE)]
# The policy check rejects over 1024 characters with `weak_password`; this only bounds input.
Password = Annotated[str, Field(min_length=1, max_length=4096)]
Code = Annotated[str, Field(min_length=1, max_length=32)]

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
