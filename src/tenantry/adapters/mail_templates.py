"""Mail rendered from the Jinja templates in `tenantry/domain/mail/templates`: for each mail a
subject line (`NAME.subject.txt`), a text part (`NAME.txt`) and an HTML part (`NAME.html`,
autoescaped). An undefined variable is an error, not an empty string."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tenantry.domain.mail.outbox import RenderedMail


class JinjaMailTemplates:
    """`outbox.MailRenderer` over the templates shipped with the domain's mail package."""

    def __init__(self) -> None:
        self._templates = Environment(
            loader=PackageLoader("tenantry.domain.mail", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, template: str, values: Mapping[str, Any]) -> RenderedMail:
        return RenderedMail(
            subject=self._part(f"{template}.subject.txt", values).strip(),
            text=self._part(f"{template}.txt", values),
            html=self._part(f"{template}.html", values),
        )

    def _part(self, name: str, values: Mapping[str, Any]) -> str:
        return self._templates.get_template(name).render(values)
