"""The public names of a domain package, imported from their modules on first use. The
packages' modules import one another (accounts and the data plane, identity and audit), so a
package `__init__` that imported them all at once would import itself half-built."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, modules: Mapping[str, str]) -> Callable[[str], object]:
    """The module `__getattr__` of `package`, whose public names are `modules`' keys, each
    defined in the submodule its value names."""

    def attribute(name: str) -> object:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return attribute
