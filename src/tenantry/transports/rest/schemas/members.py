"""Bodies of the member routes (SPEC §6)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Role = Literal["owner", "admin", "editor", "viewer"]


class MemberUpdate(BaseModel):
    role: Role
