"""The pipeline's shape: no import cycle, no oversized module, every environment variable declared
in one place and documented from it."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import o2c_pipeline
from o2c_pipeline import settings

PIPELINE = Path(o2c_pipeline.__file__).parent
ROOT = PIPELINE.parent
MAX_MODULE_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PIPELINE.rglob("*.py"))}


def imports_of(name: str, path: Path) -> set[str]:
    """The pipeline modules ``name`` imports, at any depth of its code (function-level imports
    included: a cycle hidden inside a function is still a cycle). ``from pkg import x`` counts as
    an import of ``pkg.x`` when that is a module, else of ``pkg``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


def test_the_module_import_graph_has_no_cycle() -> None:
    graph = {name: imports_of(name, path) for name, path in MODULES.items()}
    assert sum(map(len, graph.values())) > 100  # the graph was really read
    assert "o2c_pipeline.settings" in graph["o2c_pipeline.resources.checkpoints"]
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")
    assert set(order) == set(MODULES)


def test_settings_and_pure_data_modules_import_nothing_of_the_pipeline() -> None:
    for name in ("o2c_pipeline.setting_kinds", "o2c_pipeline.netsuite.statuses"):
        assert imports_of(name, MODULES[name]) == set(), name
    # the declarations lean only on how their kinds of value are checked
    settings = "o2c_pipeline.settings"
    assert imports_of(settings, MODULES[settings]) <= {"o2c_pipeline.setting_kinds"}


def test_every_module_imports_on_its_own() -> None:
    """Each module imported first, in a fresh set of pipeline modules: an import-order
    dependency (what a cycle turns into at run time) fails here."""
    script = (
        "import importlib, sys\n"
        f"names = {sorted(n for n in MODULES if not n.endswith('__main__'))!r}\n"
        "failed = []\n"
        "for name in names:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('o2c_pipeline')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_module_is_over_500_lines() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert max(sizes.values()) > 100
    assert {n: s for n, s in sizes.items() if s > MAX_MODULE_LINES} == {}


def _environment_reads(tree: ast.AST) -> list[str]:
    """``os.environ`` / ``os.getenv`` uses in a module, as source snippets."""
    return [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and node.attr in ("environ", "getenv")
    ]


def _setting_names(tree: ast.AST) -> set[str]:
    """String literals naming a setting: ``settings.value("X")``, ``env.value("X")``,
    ``settings.default("X")``, ``dg.EnvVar("X")``."""
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("value", "default", "EnvVar")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def test_only_the_settings_module_reads_the_environment_and_only_declared_names() -> None:
    readers, named = {}, set()
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        if name != "o2c_pipeline.settings" and (uses := _environment_reads(tree)):
            readers[name] = uses
        named |= _setting_names(tree)
    assert readers == {}
    assert {"O2C_SYNC_CONFIG", "O2C_ALERT_WEBHOOK_URL", "DAGSTER_HOME"} <= named
    assert named - set(settings.SETTINGS_BY_NAME) == set()


def test_the_settings_the_issue_named_are_declared_with_a_description() -> None:
    for name in (
        "O2C_SYNC_CONFIG",
        "O2C_NETSUITE_TIMEZONE",
        "O2C_ALERT_WEBHOOK_URL",
        "O2C_DAGSTER_URL",
    ):
        assert settings.SETTINGS_BY_NAME[name].description


def test_bad_new_settings_are_named(tmp_path) -> None:
    env = {
        "O2C_NETSUITE_TIMEZONE": "Mars/Olympus",
        "O2C_SYNC_CONFIG": str(tmp_path / "missing.yaml"),
        "O2C_ALERT_WEBHOOK_URL": "slack-webhook",
    }
    with pytest.raises(settings.SettingsError) as err:
        settings.validate(env)
    text = str(err.value)
    assert "O2C_NETSUITE_TIMEZONE must be an IANA time zone" in text
    assert "O2C_SYNC_CONFIG points to a missing file" in text
    assert "O2C_ALERT_WEBHOOK_URL must be an http(s):// URL" in text


def test_the_readme_settings_table_is_generated_from_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text()
    block = settings.readme_block(readme)
    assert block == settings.markdown_table(), (
        "README.md's settings table drifted: run python -m o2c_pipeline.settings --write README.md"
    )
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [s.name for s in settings.SETTINGS]
    assert "" not in block.splitlines()  # one table, no blank line splitting it


def test_writing_the_readme_replaces_only_the_marked_block() -> None:
    text = f"intro\n{settings.README_BEGIN}\n| stale |\n{settings.README_END}\noutro\n"
    written = settings.with_table(text)
    assert written.startswith("intro\n") and written.endswith("\noutro\n")
    assert settings.readme_block(written) == settings.markdown_table()
