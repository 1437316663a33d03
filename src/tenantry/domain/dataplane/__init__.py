"""The tenant data plane (SPEC §10): products, orders, experiments and collected events, each
written through `TenantData`, the unit of work on whichever store holds the tenant's data."""

from typing import TYPE_CHECKING

from tenantry.domain.exports import lazy_exports

if TYPE_CHECKING:
    from tenantry.domain.dataplane.collection import Collector, TokenBuckets
    from tenantry.domain.dataplane.event_writer import CollectUnavailable, EventWriter
    from tenantry.domain.dataplane.experiments import Experiments
    from tenantry.domain.dataplane.orders import Orders
    from tenantry.domain.dataplane.products import Products
    from tenantry.domain.dataplane.units import Placement, TenantData, TenantDataUnavailable

__all__ = [
    "CollectUnavailable",
    "Collector",
    "EventWriter",
    "Experiments",
    "Orders",
    "Placement",
    "Products",
    "TenantData",
    "TenantDataUnavailable",
    "TokenBuckets",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "CollectUnavailable": "event_writer",
        "Collector": "collection",
        "EventWriter": "event_writer",
        "Experiments": "experiments",
        "Orders": "orders",
        "Placement": "units",
        "Products": "products",
        "TenantData": "units",
        "TenantDataUnavailable": "units",
        "TokenBuckets": "collection",
    },
)
