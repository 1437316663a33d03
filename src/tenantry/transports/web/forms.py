"""The web side of a state-changing form: the change (a service call), then
post/redirect/get; a refusal from the domain shows the form's page again with the domain's
message and status."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from fastapi import APIRouter, Response

from tenantry.bootstrap import Container
from tenantry.errors import DomainError, Throttled
from tenantry.transports.web.acting import Acting
from tenantry.transports.web.entry import failure
from tenantry.transports.web.names import NameRule
from tenantry.transports.web.render import redirect
from tenantry.transports.web.visitors import field

# The form's page, rendered again when called with `status=` and `error=`.
PageAgain = Callable[..., Awaitable[Response]]
# Where a change leads: a path, or one made from what the change returned (a created item).
Destination = str | Callable[[Any], str]
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


@dataclass(frozen=True)
class TenantForm:
    """The forms of one tenant page: each posts a service call made as the actor with the
    page's `ids`, then goes to `path` (or another destination) with a notice, or shows the
    page `again` with what was refused."""

    acting: Acting
    path: str
    again: PageAgain
    ids: Mapping[str, uuid.UUID]

    @property
    def container(self) -> Container:
        return self.acting.container

    def about(self, **ids: uuid.UUID) -> TenantForm:
        """The same page's form, about one more thing of it (an environment, a member)."""
        return replace(self, ids={**self.ids, **ids})

    async def change(
        self,
        call: Callable[..., Awaitable[Any]],
        notice: str,
        *,
        problem: str = "",
        done: Destination | None = None,
        **posted: Any,
    ) -> Response:
        """`posted` are the values read from the form: one left None (missing or invalid)
        shows the page again with `problem` and a 422, before the domain is asked."""
        if any(value is None for value in posted.values()):
            return await self.again(status=422, error=problem)
        destination = self.path if done is None else done
        return await redirect_after(
            call(actor=self.acting.actor, **self.ids, **posted),
            done=lambda changed: f"{_place(destination, changed)}?notice={notice}",
            refused=self.again,
        )

    async def named(
        self, rule: NameRule, call: Callable[..., Awaitable[Any]], notice: str, **more: Any
    ) -> Response:
        """A change taking the posted `name`, read (and refused) by `rule`."""
        name = rule.read(self.acting.form)
        return await self.change(call, notice, problem=rule.message, name=name, **more)

    async def delete(
        self, call: Callable[..., Awaitable[Any]], notice: str, *, what: str
    ) -> Response:
        """A deletion, made only with the confirmation box ticked; then the listing the page
        sits in (its path's parent)."""
        done = self.path.rsplit("/", 1)[0]
        if field(self.acting.form, "confirm", limit=8) != "yes":
            problem = f"Tick the box to confirm deleting the {what}."
            return await self.again(status=422, error=problem)
        return await self.change(call, notice, done=done)


def add_rename_and_delete(
    router: APIRouter, form: Any, rule: NameRule, what: str, service: Callable[[Container], Any]
) -> None:
    """The two posts the page of every named item has (a project, a team): `/rename`, the name
    read by `rule`, and `/delete`, with the confirmation box ticked. `form` is the page's form
    dependency (`Depends(...)`); `service` picks the item's domain service, whose `rename` and
    `delete` are the API's."""

    async def rename(form: TenantForm = form) -> Response:
        return await form.named(rule, service(form.container).rename, f"{what}_renamed")

    async def delete(form: TenantForm = form) -> Response:
        return await form.delete(service(form.container).delete, f"{what}_deleted", what=what)

    router.post("/rename")(rename)
    router.post("/delete")(delete)


def _place(destination: Destination, changed: object) -> str:
    return destination(changed) if callable(destination) else destination
