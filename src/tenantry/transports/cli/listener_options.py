"""The uvicorn options every Tenantry listener shares (the public one, the admin one)."""

from __future__ import annotations

from typing import TypedDict

# Seconds an idle kept-alive connection stays open (uvicorn's default, stated: a client that
# holds one costs a socket, never a worker). A load balancer in front must close idle
# connections sooner, or it may reuse one that Tenantry is closing (a 502).
KEEP_ALIVE_SECONDS = 5


class ListenerOptions(TypedDict):
    log_level: str
    access_log: bool
    proxy_headers: bool
    server_header: bool
    timeout_keep_alive: int


LISTENER_OPTIONS: ListenerOptions = {
    "log_level": "warning",
    "access_log": False,  # Observability logs requests
    # X-Forwarded-* count only from TENANTRY_TRUSTED_PROXIES (`rest.client_ip`)
    "proxy_headers": False,
    "server_header": False,  # no `server: uvicorn` banner
    "timeout_keep_alive": KEEP_ALIVE_SECONDS,
}
