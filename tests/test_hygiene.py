"""Project hygiene: the engine never imports the UI, the tree is lint-clean, and the packaged
demo desk is the repository's config with small data files.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "core"
UI_PACKAGES = ("textual", "rich", "hedgedesk.tui")

_PROBE = r"""
import importlib, json, pkgutil, sys
import hedgedesk.core as core
names = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "hedgedesk.core."))
for name in names:
    importlib.import_module(name)
ui = sorted(m for m in sys.modules
            if m.split(".")[0] in {"textual", "rich"} or m.startswith("hedgedesk.tui"))
print(json.dumps({"modules": names, "ui": ui}))
"""


def _core_files() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if "__pycache__" not in p.parts)


def test_importing_all_of_core_loads_no_ui():
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = {
        "hedgedesk." + ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in _core_files()
    } - {"hedgedesk.core"}
    assert set(report["modules"]) == expected  # every module under core/ was imported
    assert report["ui"] == []


def test_probe_would_notice_a_ui_import():
    """The subprocess check reports UI modules when they are imported (it can fail)."""
    probe = _PROBE.replace("for name in names:", "import hedgedesk.tui\nfor name in names:")
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "hedgedesk.tui" in json.loads(proc.stdout.strip().splitlines()[-1])["ui"]


def _is_ui(name: str) -> bool:
    return any(name == u or name.startswith(u + ".") for u in UI_PACKAGES)


def _ui_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [n for n in names if _is_ui(n)]
    # importlib.import_module("textual...") with a literal name counts too
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in ("import_module", "__import__")
            and _is_ui(node.args[0].value)
        ):
            found.append(node.args[0].value)
    return found


def test_static_no_ui_import_in_core():
    files = _core_files()
    assert CORE / "config.py" in files
    offenders = {
        str(p.relative_to(REPO)): names
        for p in files
        if (names := _ui_imports(p.read_text(encoding="utf-8")))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "import textual",
        "import rich.console",
        "from hedgedesk.tui.cli.main import main",
        "from rich import print",
        "def f():\n    from textual.app import App",
        "import importlib\nimportlib.import_module('hedgedesk.tui')",
    ],
)
def test_static_check_catches_ui_imports(source):
    assert _ui_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "import hedgedesk.core.config",
        "from . import tui_helpers",
        "import hedgedesk.tuition",
        "import richer",
        "x = 'textual'",
    ],
)
def test_static_check_ignores_other_imports(source):
    assert not _ui_imports(source)


def _absolute_imports(source: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_code_imports_the_hedgedesk_namespace_only():
    """core/ and tui/ install as hedgedesk.core and hedgedesk.tui: an import of the bare names
    would work in the checkout (pytest puts the repository on sys.path) and fail when installed.
    """
    files = [
        p
        for d in ("core", "tui", "tests", "bench", "scripts")
        for p in (REPO / d).rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    offenders = {
        str(p.relative_to(REPO)): bad
        for p in files
        if (
            bad := [
                n
                for n in _absolute_imports(p.read_text(encoding="utf-8"))
                if n.split(".")[0] in ("core", "tui")
            ]
        )
    }
    assert offenders == {}
    assert _absolute_imports("from core.config import x\nimport tui.app") == [
        "core.config",
        "tui.app",
    ]


def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_source_folder_is_an_installed_package():
    """setup.py installs the packages find_packages sees; a folder of modules without an
    __init__.py would be left out of the wheel (as core/report/ once was).
    """
    folders = {
        p.parent
        for d in ("core", "tui")
        for p in (REPO / d).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    missing = sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file())
    assert missing == []
    from setuptools import find_packages

    found = set(find_packages(where=str(REPO), include=["core", "core.*", "tui", "tui.*"]))
    assert found == {".".join(f.relative_to(REPO).parts) for f in folders}


def test_ruff_format_is_applied():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_packaged_demo_config_is_the_repository_config():
    from hedgedesk.core.demo import demo_config_path

    packaged = demo_config_path()
    assert packaged.is_file()
    assert packaged.read_bytes() == (REPO / "config.toml").read_bytes()


def test_demo_data_is_small():
    from hedgedesk.core.demo import demo_dir

    data = [
        p
        for p in demo_dir().iterdir()
        if p.is_file() and p.name.endswith((".csv", ".csv.gz", ".parquet"))
    ]
    assert data, "no demo data files"
    assert sum(p.stat().st_size for p in data) <= 2 * 1024 * 1024


def test_demo_files_are_declared_package_data():
    """Every non-Python file of core/demo ships in the wheel (pyproject package-data globs)."""
    from hedgedesk.core.demo import demo_dir

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["hedgedesk.core.demo"]
    files = [
        p.name for p in demo_dir().iterdir() if p.is_file() and not p.name.endswith((".py", ".pyc"))
    ]
    assert "config.toml" in files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert missing == []
