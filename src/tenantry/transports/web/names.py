"""Names posted by web forms, read by the very annotated types the API's bodies use (trimmed,
1 to N characters, no control characters, no line breaks or ANSI escapes), so a name the API
refuses with 422 cannot come in through a page either; the rule also words the page's error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import FormData

from tenantry.transports.web.visitors import field


@dataclass(frozen=True)
class NameRule:
    what: str
    adapter: TypeAdapter[str]

    @property
    def message(self) -> str:
        limit = self.adapter.json_schema()["maxLength"]
        return f"Enter {self.what} of 1 to {limit} characters, without control characters."

    def read(self, form: FormData, name: str = "name") -> str | None:
        """The field as the API's type reads it, or None when that type refuses it."""
        try:
            return self.adapter.validate_python(field(form, name))
        except ValidationError:
            return None


def name_rule(what: str, annotated: Any) -> NameRule:
    """`annotated` is the API's field type, such as `TenantName`."""
    return NameRule(what, TypeAdapter(annotated))
