"""Field rules for names, as annotated types defined once: the REST bodies, the web forms and
the GraphQL arguments read names through these, so every transport accepts the same names."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

# No control characters: Unicode's Cc (C0, DEL, C1) spelled out rather than `\P{Cc}`, which
# the OpenAPI's clients (schemathesis, Python's `re`) cannot read. PostgreSQL refuses NUL.
CONTROL_FREE = r"^[^\x00-\x1f\x7f-\x9f]*$"
# A display name: trimmed, not blank, no control characters.
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=CONTROL_FREE)]
TenantName = Annotated[Label, Field(max_length=200)]
# A person's name on their profile.
DisplayName = Annotated[Label, Field(max_length=200)]
# A person's name as sign-up takes it: not trimmed, may be empty.
Name = Annotated[str, Field(max_length=200, pattern=CONTROL_FREE)]
ProjectName = Annotated[Label, Field(max_length=200)]
EnvironmentName = Annotated[Label, Field(max_length=100)]
TeamName = Annotated[Label, Field(max_length=200)]

SLUG_MAX_LENGTH = 63
SLUG_PATTERN = rf"^[a-z0-9][a-z0-9-]{{0,{SLUG_MAX_LENGTH - 1}}}$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
