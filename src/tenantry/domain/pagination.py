"""Keyset pagination: opaque cursors over (created_at, id), stable under inserts."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, TypeVarTuple

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from tenantry.errors import MalformedRequest

T = TypeVar("T")
U = TypeVar("U")
Columns = TypeVarTuple("Columns")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted (a row to its read model, say)."""
        return Page([convert(item) for item in self.items], self.next_cursor)


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (ValueError, TypeError, binascii.Error) as error:
        raise MalformedRequest("The cursor is not valid.", code="invalid_cursor") from error


def paginate(
    statement: Select[*Columns],
    page: PageRequest,
    *,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
) -> Select[*Columns]:
    """Order by (created_at, id), start after the cursor, fetch one extra row to see if more."""
    if page.cursor:
        after_time, after_id = decode_cursor(page.cursor)
        statement = statement.where(
            or_(created_at > after_time, and_(created_at == after_time, row_id > after_id))
        )
    return statement.order_by(created_at, row_id).limit(page.limit + 1)


def make_page(rows: list[T], page: PageRequest, *, key: Any) -> Page[T]:
    """`key(row)` gives the row's (created_at, id) for the next cursor."""
    if len(rows) <= page.limit:
        return Page(rows, None)
    kept = rows[: page.limit]
    return Page(kept, encode_cursor(*key(kept[-1])))
