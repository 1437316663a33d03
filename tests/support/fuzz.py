"""Driving schemathesis from a test: every operation of a loaded schema gets a bounded number
of generated cases, sent to a real server; failures are collected per operation (the first
one each) so that one run reports everything it found rather than stopping at the first."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
from hypothesis import HealthCheck, Phase
from schemathesis import APIOperation, BaseSchema, Case, CheckFunction, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup

PATH_PARAMETER = re.compile(r"\{(\w+)\}")
# Reads first, deletes last, deeper paths deleted before shallower ones: a generated DELETE
# of a seeded parent (or of the tenant itself) would otherwise turn the rest into 404s.
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
REQUEST_TIMEOUT = 30.0
Operation = APIOperation[Any, Any, Any, Any]


@dataclass(frozen=True)
class Finding:
    operation: str
    report: str

    def __str__(self) -> str:
        return f"{self.operation}\n{self.report}"


@dataclass
class FuzzRun:
    """One fuzzing pass: where to send, as whom, what to check and how much to try."""

    base_url: str
    headers: Mapping[str, str]
    checks: list[CheckFunction]
    max_examples: int
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # Values for path parameters by name, so that positive cases reach seeded objects.
    known_ids: Mapping[str, str] = field(default_factory=dict)
    # Checks left out for one operation label, each with the reason in the caller's code.
    excluded: Mapping[str, list[CheckFunction]] = field(default_factory=dict)
    cases: int = 0
    findings: list[Finding] = field(default_factory=list)

    def fuzz(self, schema: BaseSchema) -> list[Finding]:
        session = requests.Session()
        for operation in ordered(schema):
            for mode in self.modes:
                self._fuzz_operation(operation, mode, session)
        return self.findings

    def _fuzz_operation(
        self, operation: Operation, mode: GenerationMode, session: requests.Session
    ) -> None:
        if any(finding.operation == operation.label for finding in self.findings):
            return
        fixed = self._path_ids(operation) if mode is GenerationMode.POSITIVE else {}
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
        found: list[Finding] = []

        @hypothesis.settings(
            max_examples=self.max_examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=strategy)
        def run(case: Case[Operation]) -> None:
            if not found:
                self.cases += 1
                self._send(case, operation, session, found)

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            # An operation without inputs has no invalid input to send.
            if mode is GenerationMode.POSITIVE:
                raise
        self.findings += found

    def _send(
        self,
        case: Case[Operation],
        operation: Operation,
        session: requests.Session,
        found: list[Finding],
    ) -> None:
        headers = dict(self.headers)
        response = case.call(
            base_url=self.base_url, session=session, headers=headers, timeout=REQUEST_TIMEOUT
        )
        excluded = self.excluded.get(operation.label, [])
        try:
            case.validate_response(
                response, checks=self.checks, excluded_checks=excluded, headers=headers
            )
        except FailureGroup as failures:
            found.append(Finding(operation.label, str(failures)))

    def _path_ids(self, operation: Operation) -> dict[str, str]:
        names = PATH_PARAMETER.findall(operation.path)
        return {name: self.known_ids[name] for name in names if name in self.known_ids}


def ordered(schema: BaseSchema) -> list[Operation]:
    operations = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()
        operations.append(result.ok())
    return sorted(operations, key=_order_key)


def _order_key(operation: Operation) -> tuple[int, int, str]:
    rank = METHOD_ORDER.get(operation.method.upper(), 1)
    depth = operation.path.count("/")
    return (rank, -depth if rank == METHOD_ORDER["DELETE"] else depth, operation.label)


def timed(action: Callable[[], Any]) -> float:
    """How long `action` took, in seconds."""
    started = time.monotonic()
    action()
    return time.monotonic() - started


def report(findings: Iterable[Finding]) -> str:
    return "\n\n".join(str(finding) for finding in findings)
