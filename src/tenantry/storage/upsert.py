"""`INSERT ... ON CONFLICT` for whichever dialect the session is bound to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_on_conflict(session: AsyncSession, table: Any) -> Any:
    """The dialect's `insert()` construct, which offers `on_conflict_do_nothing/do_update`."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
