"""Webhooks (SPEC §9): tenants' endpoints, the dispatcher that fans outbox events out to them,
Standard Webhooks signing and the SSRF guard of their URLs."""

from typing import TYPE_CHECKING

from tenantry.domain.exports import lazy_exports

if TYPE_CHECKING:
    from tenantry.domain.webhooks.dispatcher import WebhookDispatcher
    from tenantry.domain.webhooks.endpoints import WebhookEndpoints
    from tenantry.domain.webhooks.retention import purge_settled_events
    from tenantry.domain.webhooks.sender import AttemptResult, WebhookPoster
    from tenantry.domain.webhooks.targets import Target, TargetRefused

__all__ = [
    "AttemptResult",
    "Target",
    "TargetRefused",
    "WebhookDispatcher",
    "WebhookEndpoints",
    "WebhookPoster",
    "purge_settled_events",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "AttemptResult": "sender",
        "Target": "targets",
        "TargetRefused": "targets",
        "WebhookDispatcher": "dispatcher",
        "WebhookEndpoints": "endpoints",
        "WebhookPoster": "sender",
        "purge_settled_events": "retention",
    },
)
