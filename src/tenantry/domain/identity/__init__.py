"""Identity (SPEC §4, §11): sign-up, login, recovery, sessions and their refresh tokens, access
tokens and signing keys, trusted external issuers, browser sessions, throttling, and the
secrets behind them. `IdentityToolkit` is what the flows share."""

from typing import TYPE_CHECKING

from tenantry.domain.exports import lazy_exports

if TYPE_CHECKING:
    from tenantry.domain.identity.access import Authenticator, Principal, TenantAccess
    from tenantry.domain.identity.devices import DeviceProofs
    from tenantry.domain.identity.external_accounts import ExternalAccounts
    from tenantry.domain.identity.federation import FederatedTokens, JwksSource, JwksUnavailable
    from tenantry.domain.identity.issuers import TrustedIssuer
    from tenantry.domain.identity.keys import KeyRing
    from tenantry.domain.identity.login import LoginFlow
    from tenantry.domain.identity.masterkey import SecretBox
    from tenantry.domain.identity.notices import SecurityNotices
    from tenantry.domain.identity.passwords import PasswordHasher
    from tenantry.domain.identity.recovery import RecoveryFlow
    from tenantry.domain.identity.secrets import SecretHasher
    from tenantry.domain.identity.signup import SignUpFlow
    from tenantry.domain.identity.throttle import Allowances, LockoutPolicy
    from tenantry.domain.identity.tokens import AccessClaims, AccessTokens
    from tenantry.domain.identity.toolkit import IdentityToolkit, TokenPair
    from tenantry.domain.identity.web_sessions import WebIdentity, WebSessionPolicy, WebSessions

__all__ = [
    "AccessClaims",
    "AccessTokens",
    "Allowances",
    "Authenticator",
    "DeviceProofs",
    "ExternalAccounts",
    "FederatedTokens",
    "IdentityToolkit",
    "JwksSource",
    "JwksUnavailable",
    "KeyRing",
    "LockoutPolicy",
    "LoginFlow",
    "PasswordHasher",
    "Principal",
    "RecoveryFlow",
    "SecretBox",
    "SecretHasher",
    "SecurityNotices",
    "SignUpFlow",
    "TenantAccess",
    "TokenPair",
    "TrustedIssuer",
    "WebIdentity",
    "WebSessionPolicy",
    "WebSessions",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "AccessClaims": "tokens",
        "AccessTokens": "tokens",
        "Allowances": "throttle",
        "Authenticator": "access",
        "DeviceProofs": "devices",
        "ExternalAccounts": "external_accounts",
        "FederatedTokens": "federation",
        "IdentityToolkit": "toolkit",
        "JwksSource": "federation",
        "JwksUnavailable": "federation",
        "KeyRing": "keys",
        "LockoutPolicy": "throttle",
        "LoginFlow": "login",
        "PasswordHasher": "passwords",
        "Principal": "access",
        "RecoveryFlow": "recovery",
        "SecretBox": "masterkey",
        "SecretHasher": "secrets",
        "SecurityNotices": "notices",
        "SignUpFlow": "signup",
        "TenantAccess": "access",
        "TokenPair": "toolkit",
        "TrustedIssuer": "issuers",
        "WebIdentity": "web_sessions",
        "WebSessionPolicy": "web_sessions",
        "WebSessions": "web_sessions",
    },
)
