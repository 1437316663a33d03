"""Every case of the security and fault catalogue (../shared/SECURITY-TESTS.md, cases 1-44) is
proven by at least one test tagged `@pytest.mark.catalogue(N)`. The test modules are read with
`ast`, never imported, so this stays a fast unit test; only marks that reach a test count: on a
test function or class, in a module's or test class's `pytestmark`, or in `pytest.param(marks=)`."""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

CASES = range(1, 45)
TESTS = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Tag:
    case: int | None  # None: not an integer literal
    where: str


def is_catalogue_mark(node: ast.expr) -> bool:
    """`pytest.mark.catalogue(...)` or `mark.catalogue(...)`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    owner = node.func.value
    named_mark = (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
        isinstance(owner, ast.Name) and owner.id == "mark"
    )
    return node.func.attr == "catalogue" and named_mark


def marks_in(expression: ast.expr) -> Iterator[ast.Call]:
    """The catalogue marks in a decorator, a `pytestmark` value or a `marks=` argument."""
    candidates = expression.elts if isinstance(expression, ast.List | ast.Tuple) else [expression]
    for candidate in candidates:
        if is_catalogue_mark(candidate):
            assert isinstance(candidate, ast.Call)
            yield candidate


def pytestmark_value(statement: ast.stmt) -> ast.expr | None:
    if isinstance(statement, ast.Assign) and any(
        isinstance(target, ast.Name) and target.id == "pytestmark" for target in statement.targets
    ):
        return statement.value
    if (
        isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and statement.target.id == "pytestmark"
    ):
        return statement.value
    return None


def applied_marks(body: list[ast.stmt]) -> Iterator[ast.Call]:
    """Marks on the tests of a module or test class body, recursing into test classes."""
    for statement in body:
        if (value := pytestmark_value(statement)) is not None:
            yield from marks_in(value)
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            if statement.name.startswith("test"):
                for decorator in statement.decorator_list:
                    yield from marks_in(decorator)
                    yield from param_marks(decorator)
        elif isinstance(statement, ast.ClassDef) and statement.name.startswith("Test"):
            for decorator in statement.decorator_list:
                yield from marks_in(decorator)
            yield from applied_marks(statement.body)


def param_marks(decorator: ast.expr) -> Iterator[ast.Call]:
    """Marks given to single cases of a parametrize: `pytest.param(..., marks=...)`."""
    for node in ast.walk(decorator):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "marks":
                    yield from marks_in(keyword.value)


def literal_int(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def parsed(path: Path) -> ast.Module:
    """`path`'s syntax tree, built with the garbage collector paused. CPython 3.11.7's AST
    constructor checks that the thread's recursion depth ends where it began, and a collection
    inside it runs finalizers, such as those of earlier tests' pooled database connections,
    which switch greenlets and move that depth ("AST constructor recursion depth mismatch",
    seen once after the whole suite)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(path.read_text(), filename=str(path))
    finally:
        if collecting:
            gc.enable()


def tags_in(path: Path, root: Path = TESTS.parent) -> Iterator[Tag]:
    tree = parsed(path)
    for mark in applied_marks(tree.body):
        where = f"{path.relative_to(root)}:{mark.lineno}"
        if mark.keywords or not mark.args:
            yield Tag(None, where)
        for argument in mark.args:
            yield Tag(literal_int(argument), where)


def all_tags() -> list[Tag]:
    return [tag for path in sorted(TESTS.rglob("test_*.py")) for tag in tags_in(path)]


def test_every_catalogue_case_is_proven_by_a_tagged_test() -> None:
    covered = {tag.case for tag in all_tags()}
    missing = [case for case in CASES if case not in covered]
    assert not missing, f"catalogue cases without a @pytest.mark.catalogue test: {missing}"


def test_catalogue_marks_name_only_existing_cases_as_plain_numbers() -> None:
    wrong = [tag.where for tag in all_tags() if tag.case not in CASES]
    assert not wrong, f"catalogue marks need integer literals 1-44 as arguments: {wrong}"


def test_the_checker_finds_marks_wherever_pytest_applies_them(tmp_path: Path) -> None:
    """Control: each way of tagging is seen, and marks that reach no test are not."""
    module = tmp_path / "test_example.py"
    module.write_text(
        "import pytest\n"
        "from pytest import mark\n"
        "pytestmark = [pytest.mark.integration, pytest.mark.catalogue(1)]\n"
        "@pytest.mark.catalogue(2, 3)\n"
        "async def test_a(): ...\n"
        "@mark.catalogue(4)\n"
        "class TestB:\n"
        "    pytestmark = pytest.mark.catalogue(5)\n"
        "    @pytest.mark.catalogue(6)\n"
        "    def test_c(self): ...\n"
        "@pytest.mark.parametrize('x', [pytest.param(1, marks=pytest.mark.catalogue(7))])\n"
        "def test_d(x): ...\n"
        "@pytest.mark.catalogue(98)\n"
        "def helper(): ...\n"
        "@pytest.mark.catalogue(99)\n"
        "class Helper: ...\n"
        "@pytest.mark.catalogue(n)\n"
        "def test_e(): ...\n"
    )
    found = [tag.case for tag in tags_in(module, root=tmp_path)]
    assert found == [1, 2, 3, 4, 5, 6, 7, None]
