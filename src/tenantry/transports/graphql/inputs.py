"""Arguments checked by the same pydantic bodies as the REST routes, so both transports accept
and normalize exactly the same input (trimmed names, normalized emails, bounded lifetimes)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tenantry.domain.pagination import MAX_LIMIT, PageRequest
from tenantry.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], **arguments: Any) -> M:
    """`model` built from GraphQL arguments (snake_case); a bad value is `validation_error`,
    as REST's 422."""
    try:
        return model.model_validate(arguments)
    except ValidationError as error:
        issues = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'input'}: {issue['msg']}"
            for issue in error.errors(include_url=False)
        )
        raise InvalidInput(f"The input is not valid: {issues}", code="validation_error") from None


def page_request(limit: int, cursor: str | None = None) -> PageRequest:
    """REST's `?limit=` and `?cursor=` rules (1 to 200; cursors up to 512 characters)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be from 1 to {MAX_LIMIT}.", code="validation_error")
    if cursor is not None and len(cursor) > 512:
        raise InvalidInput("The cursor is too long.", code="validation_error")
    return PageRequest(limit=limit, cursor=cursor)
