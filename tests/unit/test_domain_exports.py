"""Each domain package's public names resolve to the objects their modules define, in a fresh
interpreter too, where no other import has loaded the modules first."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import tenantry.domain

PACKAGES = sorted(
    f"tenantry.domain.{module.name}"
    for module in pkgutil.iter_modules(tenantry.domain.__path__)
    if module.ispkg
)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__doc__
    assert module.__all__
    for name in module.__all__:
        exported = getattr(module, name)
        if isinstance(exported, type) or callable(exported):
            assert exported.__module__.startswith(f"{package}."), name


@pytest.mark.parametrize("package", PACKAGES)
def test_a_fresh_interpreter_imports_every_public_name(package: str) -> None:
    names = importlib.import_module(package).__all__
    source = f"from {package} import {', '.join(names)}"
    subprocess.run([sys.executable, "-c", source], check=True)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = importlib.import_module("tenantry.domain.accounts").Nothing
