"""Owner-only files in the data directory, whatever the umask: it holds the SQLite databases
(emails, password hashes), the silos and the master key. Directories are created 0700 and
files 0600; what an older version or an operator left wider is named in a warning at start."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import structlog
from sqlalchemy.engine import URL

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
log = structlog.get_logger("tenantry")


def private_directory(path: Path) -> None:
    """Create `path` owner-only if it is missing (a umask only ever removes bits)."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)


def private_sqlite_file(url: URL) -> None:
    """Create a SQLite database file owner-only before SQLite first opens it. SQLite gives the
    -wal, -shm and journal files it makes the mode of the database file, ignoring the umask,
    so the whole set stays 0600 in every worker without touching the process umask (which
    is process-wide and would race with other threads creating files)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    with contextlib.suppress(FileExistsError):  # made earlier, or by another worker just now
        os.close(os.open(url.database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def private_data_dir(path: Path) -> None:
    """Create the data directory owner-only, and warn about anything in it others can read."""
    private_directory(path)
    wide = sorted(str(entry) for entry in [path, *path.rglob("*")] if _readable_by_others(entry))
    if wide:
        log.warning(
            "data_dir_permissions_too_wide",
            paths=wide,
            advice="chmod 700 the directories and 600 the files: they hold password hashes "
            "and keys",
        )


def _readable_by_others(path: Path) -> bool:
    with contextlib.suppress(FileNotFoundError):  # a -wal or -shm file gone meanwhile
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            return False
        return bool(stat.S_IMODE(mode) & 0o077)
    return False
