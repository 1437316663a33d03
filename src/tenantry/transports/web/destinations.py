"""Where a visitor goes after signing in: the `next` carried through the entry pages, kept to
paths on this site so that a crafted link cannot send anyone away."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import Request

NEXT_LIMIT = 2048
HOME = "/app"


def safe_next(raw: str) -> str:
    """A path on this site only (`/...`), never another host (`//host`, `/\\host`, a scheme);
    anything else is home."""
    if not raw.startswith("/") or raw.startswith("//") or len(raw) > NEXT_LIMIT:
        return HOME
    if "\\" in raw or any(ord(char) < 33 or ord(char) == 127 for char in raw):
        return HOME
    parts = urlsplit(raw)
    return HOME if parts.scheme or parts.netloc else raw


def back_here(request: Request) -> str:
    """This page, to come back to after signing in; a form post comes back home (its form is
    gone with the session that showed it)."""
    if request.method != "GET":
        return HOME
    query = f"?{request.url.query}" if request.url.query else ""
    return safe_next(request.url.path + query)


def login_url(path: str, to: str, *, notice: str = "") -> str:
    """An entry page's address carrying where to go after signing in (when not home) and the
    key of a notice to show."""
    query = {"notice": notice} if notice else {}
    if to != HOME:
        query["next"] = to
    return f"{path}?{urlencode(query)}" if query else path
