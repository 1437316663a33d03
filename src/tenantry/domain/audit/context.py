"""Where the current request came from, for the audit entries written while it runs. The
transport binds it per request; the domain reads it without knowing about HTTP. Outside a
request (workers, the CLI) the origin is empty."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestOrigin:
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


NO_ORIGIN = RequestOrigin()
OriginSource = Callable[[], RequestOrigin]

# A source rather than a value: most requests write no audit entry, so the client IP and user
# agent are worked out only when one is written.
_source: ContextVar[OriginSource | None] = ContextVar("tenantry_request_origin", default=None)


def bind_origin(source: OriginSource) -> Token[OriginSource | None]:
    """Make `source` give the origin of everything audited in this context."""
    return _source.set(source)


def unbind_origin(token: Token[OriginSource | None]) -> None:
    _source.reset(token)


def current_origin() -> RequestOrigin:
    source = _source.get()
    return NO_ORIGIN if source is None else source()
