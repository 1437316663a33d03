"""Environment keys and the copy-paste snippet that carries them."""

from __future__ import annotations

import secrets

DEFAULT_ENVIRONMENTS = (("Development", "development"), ("Production", "production"))


def new_client_key() -> str:
    return f"ck_{secrets.token_urlsafe(18)}"


def snippet(*, public_url: str, client_key: str) -> str:
    return f'<script src="{public_url}/sdk.js" data-client-key="{client_key}" async></script>'
