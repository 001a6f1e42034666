"""The pipeline never depends on the sandbox: not by import, not by runtime dependency."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import o2c_pipeline

PIPELINE = Path(o2c_pipeline.__file__).parent
PYPROJECT = PIPELINE.parent / "pyproject.toml"
SANDBOX_ONLY = ("sqlglot", "werkzeug", "trustme", "o2c_sandbox")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_pipeline_module_imports_the_sandbox_or_its_libraries() -> None:
    offenders = {
        f"{path.relative_to(PIPELINE.parent)}: {name}"
        for path in PIPELINE.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in SANDBOX_ONLY
    }
    assert not offenders, sorted(offenders)


def test_sandbox_libraries_are_an_extra_not_a_runtime_dependency() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert not [lib for lib in SANDBOX_ONLY if lib in runtime]
    sandbox_extra = " ".join(project["optional-dependencies"]["sandbox"])
    assert all(lib in sandbox_extra for lib in ("sqlglot", "werkzeug", "trustme"))


def test_the_sandbox_answers_with_the_pipelines_netsuite_status_letters() -> None:
    """One table of NetSuite's status letters: the sandbox may import the pipeline's pure data
    (never the other way round), so the two cannot disagree."""
    from o2c_pipeline.netsuite.statuses import TRANSACTION_STATUSES, status_text
    from o2c_sandbox.schema import NS_STATUSES

    assert NS_STATUSES is TRANSACTION_STATUSES
    statuses = PIPELINE / "netsuite" / "statuses.py"
    assert imported_modules(statuses) == set()  # pure data: importing it loads nothing else
    assert status_text("SalesOrd", "C") == "Cancelled"
    assert status_text("CustPymt", "B") == "Not Deposited"
    assert status_text("CustRfnd", "V") == "Voided"
