"""Tenantry: accounts, identity and tenant onboarding for multi-tenant SaaS products."""

__version__ = "0.1.0"
