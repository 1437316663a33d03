"""A router that declines, at once, a request outside its path prefix. FastAPI offers a request
to the included routers in turn and each matches the path against every one of its routes, so
a request for a late router paid for every earlier router's routes before its own was found;
the prefix test is nearly free (docs/benchmarks.md, "Measured in code")."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope


class PrefixedRouter(APIRouter):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # The part before a path parameter: `/v1/projects/{project_id}/experiments` is
        # `/v1/projects/` for this test, its routes match the rest.
        static_prefix = self.prefix.partition("{")[0]
        if not _route_path(scope).startswith(static_prefix):
            return Match.NONE, {}
        return super().matches(scope)


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point, read from the public ASGI scope fields the way
    Starlette's routes read it (the helper it uses is private)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    rest = path[len(root_path) :]
    return rest if not rest or rest.startswith("/") else path
