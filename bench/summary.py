"""The headline figures of a run, recorded by each benchmark as it measures them, for the
summary table `python -m bench` writes at the top of docs/benchmarks.md (no Markdown parsing).
A benchmark run alone records them too; nothing reads them then."""

from __future__ import annotations

from dataclasses import dataclass

MET = "met"
MISSED = "MISSED"
REPORTED = "reported"  # a figure the issue asks to report, without a target


@dataclass(frozen=True)
class Figure:
    benchmark: str  # the module name, e.g. "login"
    figure: str  # what was measured, e.g. "login / Argon2 bound (sqlite)"
    target: str  # e.g. ">= 0.8", or "-" for a reported figure
    result: str  # e.g. "0.89"
    verdict: str  # MET, MISSED or REPORTED


_figures: list[Figure] = []


def record(benchmark: str, figure: str, target: str, result: str, verdict: str) -> None:
    _figures.append(Figure(benchmark, figure, target, result, verdict))


def at_least(value: float, target: float) -> str:
    return MET if value >= target else MISSED


def at_most(value: float, target: float) -> str:
    return MET if value <= target else MISSED


def recorded(benchmark: str | None = None) -> list[Figure]:
    return [f for f in _figures if benchmark is None or f.benchmark == benchmark]


def clear() -> None:
    _figures.clear()
