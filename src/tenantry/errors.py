"""The domain error taxonomy. Each error carries a stable snake_case `code`; transports map the
classes to their own status codes in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller may see."""

    code = "error"
    title = "Error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # Machine-readable details beside `detail`, sent as problem members (REST) and
        # extensions (GraphQL).
        self.extra: dict[str, str] = {}
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    """The request is well-formed but a value breaks a rule (weak password, unknown plan)."""

    code = "invalid_input"
    title = "Invalid input"


class MalformedRequest(DomainError):
    """The request itself cannot be read (bad header, bad JSON, bad code)."""

    code = "malformed_request"
    title = "Malformed request"


class Unauthenticated(DomainError):
    """No credentials, or credentials that are invalid, expired or revoked."""

    code = "unauthenticated"
    title = "Unauthenticated"


class PermissionDenied(DomainError):
    """The caller is known but not allowed to do this."""

    code = "permission_denied"
    title = "Forbidden"


class NotFound(DomainError):
    """The resource does not exist in the caller's scope."""

    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    """The request conflicts with the current state."""

    code = "conflict"
    title = "Conflict"


class Gone(DomainError):
    """The resource existed but has expired."""

    code = "gone"
    title = "Gone"


class Throttled(DomainError):
    """Too many attempts; try again after `retry_after` seconds."""

    code = "throttled"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = max(1, retry_after)


class Unavailable(DomainError):
    """A dependency (database, configuration) is missing or down."""

    code = "service_unavailable"
    title = "Service unavailable"


class Busy(Unavailable):
    """The server has more of this work queued than it takes; try again after `retry_after`."""

    code = "server_busy"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)
