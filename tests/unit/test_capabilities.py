"""What each tenant role may do, as the pages are told it."""

from __future__ import annotations

import uuid
from dataclasses import fields

import pytest

from tenantry.domain.accounts.capabilities import Capabilities, capabilities_of
from tenantry.domain.accounts.roles import TenantActor

pytestmark = pytest.mark.unit

ACTIONS = [item.name for item in fields(Capabilities) if item.type == "bool"]
ADMINISTRATION = {"rotate_keys", "manage_teams", "manage_members", "invite", "run_onboarding"}
OPEN_TO = {
    "viewer": set(),
    "editor": {"edit_projects"},
    "admin": {"edit_projects", *ADMINISTRATION},
    "owner": {"edit_projects", *ADMINISTRATION},
}
GRANTABLE = {
    "viewer": (),
    "editor": (),
    "admin": ("admin", "editor", "viewer"),
    "owner": ("owner", "admin", "editor", "viewer"),
}


def of(role: str) -> Capabilities:
    return capabilities_of(TenantActor(uuid.uuid4(), uuid.uuid4(), role))


def test_every_action_is_covered() -> None:
    assert set(ACTIONS) == {"edit_projects", *ADMINISTRATION}


@pytest.mark.parametrize(("role", "actions"), OPEN_TO.items())
def test_the_actions_open_to_each_role(role: str, actions: set[str]) -> None:
    capabilities = of(role)
    assert {action for action in ACTIONS if getattr(capabilities, action)} == actions


@pytest.mark.parametrize(("role", "roles"), GRANTABLE.items())
def test_the_roles_each_role_may_grant(role: str, roles: tuple[str, ...]) -> None:
    capabilities = of(role)
    assert capabilities.grantable_roles == roles
    assert [capabilities.may_grant(granted) for granted in GRANTABLE["owner"]] == [
        granted in roles for granted in GRANTABLE["owner"]
    ]
