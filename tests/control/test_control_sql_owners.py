"""Every table of the control schema `flytt` has one module that owns its SQL.

The rule (DESIGN §2, the control schema): delivery, exposure, discovery, `flytt status` and
`flytt report` call the owner and hold no SQL on control state of their own. This test reads
the product's Python sources and fails on any string literal (docstrings excepted) that names
`flytt.<table>` outside the table's owner, so the rule stays true as the code grows.

Allowed besides the owners: the Alembic revisions, which create and change the tables.
An owner may read another control table in a join (`elements` reads `dialog_check` to find
unverified elements); `READS_ALSO` lists those.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flytt", "syncd", "exposure", "loaders", "sandbox", "benchmarks")
SCHEMA_MIGRATIONS = Path("flytt/control/alembic")
OWNERS = {
    "element_state": Path("flytt/control/elements.py"),
    "quarantine": Path("flytt/control/elements.py"),
    "service_state": Path("flytt/control/services.py"),
    "attachment_state": Path("flytt/control/attachments.py"),
    "cursor": Path("flytt/control/cursors.py"),
    "dialog_check": Path("flytt/control/dialog_checks.py"),
    "dialog_mismatch": Path("flytt/control/dialog_checks.py"),
    "run": Path("flytt/control/runs.py"),
    "status_history": Path("flytt/control/history.py"),
    "sync_state": Path("flytt/control/sync_state.py"),
}
READS_ALSO = {
    ("dialog_check", Path("flytt/control/elements.py")),
    ("element_state", Path("flytt/control/sync_state.py")),  # which elements A3 has
}
# `element_state` is unique enough to match bare (the owner's f-strings say `flytt.{TABLE}`
# nowhere, but a bare name in a query would still count); the others must be qualified.
PATTERNS = {
    table: re.compile(
        r"\belement_state\b" if table == "element_state" else rf"\bflytt\.{table}\b",
        re.IGNORECASE,
    )
    for table in OWNERS
}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are module, class or function docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0].value))
    return found


def _attribute_docstrings(tree: ast.AST) -> set[int]:
    """ids of bare string expressions after an assignment (attribute docstrings)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for before, stmt in itertools.pairwise(body):
            if (
                isinstance(before, ast.Assign | ast.AnnAssign)
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                found.add(id(stmt.value))
    return found


def sql_naming(source: str, pattern: re.Pattern[str]) -> list[int]:
    """Line numbers of string literals (not docstrings) in `source` matching `pattern`."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _attribute_docstrings(tree)
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and pattern.search(node.value)
    )


def _sources() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for package in PACKAGES
        if (ROOT / package).is_dir()
        for path in (ROOT / package).rglob("*.py")
    )


def test_only_the_owner_holds_sql_on_each_control_table() -> None:
    offenders = []
    for path in _sources():
        if SCHEMA_MIGRATIONS in path.parents:
            continue
        source = (ROOT / path).read_text(encoding="utf-8")
        for table, owner in OWNERS.items():
            if path == owner or (table, path) in READS_ALSO:
                continue
            lines = sql_naming(source, PATTERNS[table])
            offenders += [f"{path}:{line} (flytt.{table}, owner {owner})" for line in lines]
    assert not offenders, (
        "SQL on a control table outside its owner module (add a function there and call it): "
        + ", ".join(offenders)
    )


def test_each_owner_holds_its_statements() -> None:
    for table, owner in OWNERS.items():
        source = (ROOT / owner).read_text(encoding="utf-8")
        assert sql_naming(source, PATTERNS[table]), f"{owner} holds no SQL on flytt.{table}"


def test_the_check_sees_sql_and_ignores_docstrings() -> None:
    source = '''
"""Module docs about flytt.element_state."""
X = 1
"""Attribute docs about flytt.element_state."""


def f(conn):
    """Reads flytt.element_state."""
    conn.execute("update flytt.element_state set state = 'failed'")
    return f"select count(*) from flytt.{'element_state'} where id = {conn}"
'''
    assert sql_naming(source, PATTERNS["element_state"]) == [9, 10]
    assert sql_naming('x = "select 1 from flytt.run_log"', PATTERNS["run"]) == []
    assert sql_naming('x = "select 1 from flytt.run r"', PATTERNS["run"]) == [1]
