"""Result tables: the machine, the command, the numbers and the verdict, as Markdown."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def describe_machine() -> str:
    return (
        f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
        f"load average {load_average()}"
    )


def invocation() -> str:
    """The command that ran this benchmark, as a user would type it."""
    module = sys.modules["__main__"].__spec__
    name = module.name if module else sys.argv[0]
    if name.endswith(".__main__"):
        name = name.removesuffix(".__main__")
    return shlex.join([".venv/bin/python", "-m", name, *sys.argv[1:]])


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


@dataclass
class Table:
    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Taken when the benchmark starts: the load average then shows competing work.
    machine: str = field(default_factory=describe_machine)

    def add(self, *cells: object) -> None:
        self.rows.append([_cell(cell) for cell in cells])

    def render(self) -> str:
        lines = [
            f"## {self.title}",
            "",
            f"- machine: {self.machine}",
            f"- command: `{invocation()}`",
            "",
            "| " + " | ".join(self.columns) + " |",
            "|" + "|".join("---" for _ in self.columns) + "|",
            *("| " + " | ".join(row) + " |" for row in self.rows),
        ]
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines) + "\n"

    def print(self) -> None:
        print(self.render(), flush=True)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)
