"""Request bodies read with a cap, for routes that take raw bodies (collect, GraphQL)."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException


async def read_limited(request: Request, *, limit: int, what: str) -> bytes:
    """The raw body, refused with 413 past `limit` bytes whatever Content-Length says;
    `what` names the body in the refusal ("An event", "A GraphQL request")."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, what)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, what)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, what: str) -> HTTPException:
    return HTTPException(413, f"{what} is at most {limit} bytes.")
