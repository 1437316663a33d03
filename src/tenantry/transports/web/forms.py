"""The web side of a state-changing form: the change (a service call), then
post/redirect/get; a refusal from the domain shows the form's page again with the domain's
message and status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Response

from tenantry.errors import DomainError, Throttled
from tenantry.transports.web.entry import failure
from tenantry.transports.web.render import redirect

# The form's page, rendered again when called with `status=` and `error=`.
PageAgain = Callable[..., Awaitable[Response]]
T = TypeVar("T")


async def redirect_after(
    change: Awaitable[T], *, done: str | Callable[[T], str], refused: PageAgain
) -> Response:
    """`done` is where to go, or makes it from what the change returned (a created id)."""
    try:
        changed = await change
    except DomainError as error:
        return await show_refusal(refused, error)
    return redirect(done(changed) if callable(done) else done)


async def show_refusal(page: PageAgain, error: DomainError) -> Response:
    """The page again with the refusal; a throttled one says when to retry, as the sign-in
    pages do."""
    status, message = failure(error)
    response = await page(status=status, error=message)
    if isinstance(error, Throttled):
        response.headers["Retry-After"] = str(error.retry_after)
    return response
