"""Database URLs as operators write them all end on the drivers the storage layer speaks."""

import pytest

from tenantry.storage.database import async_url


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///data/tenantry.db", "sqlite+aiosqlite:///data/tenantry.db"),
        ("sqlite+pysqlite:///t.db", "sqlite+aiosqlite:///t.db"),
        ("postgresql://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgres://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql+psycopg2://u@db/app", "postgresql+asyncpg://u@db/app"),
        (
            "postgresql+psycopg://u@db/app",
            "postgresql+asyncpg://u@db/app",
        ),
    ],
)
def test_every_spelling_uses_the_async_driver_of_its_database(given: str, used: str) -> None:
    assert async_url(given).render_as_string(hide_password=False) == used
