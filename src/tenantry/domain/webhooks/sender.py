"""What the dispatcher needs of the HTTP side of a delivery (`tenantry.adapters.webhook_http`):
one attempt at posting a signed body, and its result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# How long one attempt may take in all: the dispatcher sizes its lease on it.
ATTEMPT_SECONDS = 15.0


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookPoster(Protocol):
    async def send(self, url: str, *, headers: dict[str, str], body: bytes) -> AttemptResult:
        """One attempt at posting `body` to `url`; a refused address, a timeout or a network
        error is a result with an `error`, not an exception."""
        ...
