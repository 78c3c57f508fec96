"""Layering: the core library never imports a web framework or the server."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import minicommerce

CORE = Path(minicommerce.__file__).parent
FORBIDDEN = (
    "litestar",
    "starlette",
    "fastapi",
    "flask",
    "django",
    "msgspec",
    "granian",
    "uvicorn",
    "minicommerce_server",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_core_module_imports_a_web_framework() -> None:
    offenders = {
        f"{path.relative_to(CORE)}: {name}"
        for path in CORE.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert offenders == set()


def test_importing_the_core_loads_no_web_framework() -> None:
    code = (
        "import sys, minicommerce, minicommerce.demo\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from litestar import get\nimport os\n")
    assert "litestar" in imported_modules(sample)


def test_importing_has_no_side_effects(tmp_path: Path) -> None:
    code = "import minicommerce, minicommerce_server; import os; print(sorted(os.listdir('.')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"


def test_the_core_on_sqlite_runs_without_the_optional_drivers() -> None:
    # psycopg, redis and Pillow are extras: a shop on SQLite must neither need nor load them
    # (Pillow only for an image upload).
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = sys.modules['redis'] = sys.modules['PIL'] = None\n"
        "from minicommerce import Shop\n"
        "import minicommerce.demo\n"
        "with Shop.open('sqlite://') as shop:\n"
        "    minicommerce.demo.load_demo_data(shop)\n"
        "    print(shop.catalog.count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
