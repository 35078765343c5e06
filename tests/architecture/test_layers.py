"""The layers, enforced: a lower layer never imports a higher one (core < store < hooks < service < adapters).

Read from the source (every ``import``, module level or inside a function), so the rule holds for code paths
no test runs. The picture and the reasons are in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "airflow_provider_sf360"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

# Each module's layer, by its path inside the package (the first matching prefix wins).
LAYERS: tuple[tuple[str, int], ...] = (
    ("core/", 0),
    ("get_provider_info.py", 0),
    ("__init__.py", 0),
    ("settings.py", 1),
    ("metrics.py", 1),
    ("store/", 1),
    ("exceptions.py", 2),
    ("hooks/", 2),
    ("service/", 3),
    ("operators/", 4),
    ("plugins/", 4),
    ("cli/", 4),
    ("testing/", 5),
)
LAYER_NAMES = {0: "core", 1: "store", 2: "hooks", 3: "service", 4: "operators/plugins/cli", 5: "testing"}


def _layer(relative: str) -> int:
    return next(level for prefix, level in LAYERS if relative.startswith(prefix) or relative == prefix)


def _module_path(module: str) -> str | None:
    """The package-relative file of an imported module of ours, or None for a third-party module."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    parts = module.split(".")[1:]
    if not parts:
        return "__init__.py"
    candidate = ROOT.joinpath(*parts)
    return "/".join(parts) + ("/" if candidate.is_dir() else ".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            submodules = (f"{node.module}.{alias.name}" for alias in node.names)
            found += [(node.lineno, name) for name in submodules if _module_path(name) and _exists(name)]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def _exists(module: str) -> bool:
    relative = _module_path(module) or ""
    return (ROOT / relative).exists() or (ROOT / relative.rstrip("/")).with_suffix(".py").exists()


SOURCES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    relative = str(path.relative_to(ROOT))
    own = _layer(relative)
    wrong = []
    for line, module in _imports(path):
        target = _module_path(module)
        if target is None:
            continue
        level = _layer(target)
        if level > own and not (own == 5 and level == 5):
            wrong.append(f"line {line}: {module} ({LAYER_NAMES[level]})")
    assert not wrong, f"{relative} ({LAYER_NAMES[own]}) imports a higher layer: {wrong}"


@pytest.mark.parametrize("path", [p for p in SOURCES if _layer(str(p.relative_to(ROOT))) == 0],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_airflow(path: Path) -> None:
    airflow = [module for _line, module in _imports(path) if module == "airflow" or module.startswith("airflow.")]
    assert not airflow, f"{path.relative_to(ROOT)} imports {airflow}: the core is pure"


def test_no_provider_module_imports_the_emulator() -> None:
    """Only tests and the emulator itself import ``testing`` (it is shipped for users' tests, not used at run time)."""
    offenders = [
        str(path.relative_to(ROOT)) for path in SOURCES
        if _layer(str(path.relative_to(ROOT))) < 5
        and any((_module_path(m) or "").startswith("testing") for _line, m in _imports(path))
    ]
    assert not offenders
