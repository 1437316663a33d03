"""OIDC discovery and the public signing keys."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from tenantry.domain.identity.keys import ALGORITHM
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter

router = PrefixedRouter(prefix="/.well-known", tags=["discovery"])


@router.get("/openid-configuration")
async def openid_configuration(container: ContainerDep) -> dict[str, Any]:
    base = container.settings.public_url
    return {
        "issuer": base,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": f"{base}/v1/auth/login",
        "userinfo_endpoint": f"{base}/v1/me",
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": ["none"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "iat",
            "exp",
            "jti",
            "email",
            "email_verified",
            "tenant",
        ],
    }


@router.get("/jwks.json")
async def jwks(container: ContainerDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return container.keys.jwks()
