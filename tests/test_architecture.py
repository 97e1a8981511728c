"""The shape of the code, checked: the import-linter contracts of `.importlinter` (the command
line on top, the foundation under, nothing importing upward; the product never importing the
sandbox; the replicas deciding without flytt's delivery, exposure or Altinn clients) and no
import cycle between any two modules."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("flytt", "loaders", "syncd", "exposure", "sandbox", "benchmarks")


def test_import_linter_contracts_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True)
    assert status == EXIT_STATUS_SUCCESS, "an import contract is broken: run .venv/bin/lint-imports"


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if importer < imported and graph.chain_exists(importer=imported, imported=importer)
    )
    assert cycles == []
