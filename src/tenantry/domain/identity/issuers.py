"""The external OIDC issuers Tenantry trusts, as configuration (settings read them from
`TENANTRY_TRUSTED_ISSUERS`); no imports beyond the standard library, so that settings can."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TrustedIssuer:
    """An external OIDC issuer whose access tokens Tenantry accepts."""

    issuer: str
    jwks_uri: str
    audience: str
    # The email domains this issuer may assert for a new account; unset = any domain.
    allowed_domains: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if self.allowed_domains is not None:
            domains = tuple(domain.strip().lower() for domain in self.allowed_domains)
            object.__setattr__(self, "allowed_domains", domains)

    def may_assert(self, email: str) -> bool:
        """Whether this issuer may vouch for `email` when an account is created for it."""
        domain = email.rpartition("@")[2].strip().lower()
        return self.allowed_domains is None or domain in self.allowed_domains
