"""Long lists in the web UI, a page at a time: each list on a page reads its cursor from its own
query parameter, so a page with two lists (members and invitations) pages them apart, and the
links keep the page's other parameters (filters, the other list's position)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from tenantry.domain.pagination import Page, PageRequest, decode_cursor
from tenantry.errors import DomainError

LISTED = 100
CURSOR_LIMIT = 200
# Parameters that describe one visit, not the page: a notice is not carried to the next page.
NOT_KEPT = {"notice"}


@dataclass(frozen=True)
class PageLinks:
    next_url: str | None
    first_url: str | None


def requested_page(request: Request, parameter: str, *, limit: int = LISTED) -> PageRequest:
    """The page `?{parameter}=` asks for; a cursor that is not one of ours shows the first page,
    as a browser has no use for a 400 from a link someone edited."""
    cursor = request.query_params.get(parameter, "")[:CURSOR_LIMIT] or None
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except DomainError:
            cursor = None
    return PageRequest(limit=limit, cursor=cursor)


def page_links(request: Request, path: str, parameter: str, found: Page[Any]) -> PageLinks:
    """Links to the next page of this list on the page at `path` and back to its first page,
    when there are such. A form's page shown again after a post has no position to keep."""
    kept = {
        name: value
        for name, value in request.query_params.items()
        if name != parameter and name not in NOT_KEPT
    }

    def url(extra: dict[str, str]) -> str:
        query = urlencode({**kept, **extra})
        return f"{path}?{query}" if query else path

    on_later_page = request.method == "GET" and bool(request.query_params.get(parameter))
    return PageLinks(
        next_url=url({parameter: found.next_cursor}) if found.next_cursor else None,
        first_url=url({}) if on_later_page else None,
    )
