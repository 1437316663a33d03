"""The `tenantry` command in a process of its own, as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from tenantry.settings import Settings
from tests.support.server import settings_environment


async def tenantry(settings: Settings | None, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `tenantry *args` against `settings` (None: the environment's), waited for off the
    event loop: a test's container keeps serving its workers and its connection timeouts
    meanwhile (a blocked loop under a loaded machine timed its next connection out)."""
    environment = {**os.environ, **(settings_environment(settings) if settings else {})}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tenantry", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
