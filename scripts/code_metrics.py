"""Print the figures the code is held to: function-local imports, ``Any`` outside ``testing/``, the largest files.

Run from the repository root: ``python scripts/code_metrics.py``. Standard library only.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path("airflow_provider_sf360")
OWN = PACKAGE.name
LARGEST = 6


def _local_imports(tree: ast.AST) -> tuple[int, int]:
    """Imports inside a function body: (all, of the provider's own modules)."""
    total = own = 0
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                total += 1
                own += any(alias.name.startswith(OWN) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                total += 1
                own += node.level > 0 or (node.module or "").startswith(OWN)
    return total, own


def _any_uses(tree: ast.AST) -> int:
    return sum(
        1 for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "Any")
        or (isinstance(node, ast.Attribute) and node.attr == "Any")
    )


def main() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    local_total = local_own = any_count = 0
    sizes = []
    for path in files:
        text = path.read_text()
        tree = ast.parse(text)
        total, own = _local_imports(tree)
        local_total += total
        local_own += own
        if "testing" not in path.parts:
            any_count += _any_uses(tree)
        sizes.append((len(text.splitlines()), str(path)))
    print(f"function-local imports: {local_total} ({local_own} of the provider's own modules)")
    print(f"Any outside testing/: {any_count}")
    print("largest files (lines):")
    for lines, name in sorted(sizes, reverse=True)[:LARGEST]:
        print(f"  {lines:5d}  {name}")
    print(f"README.md: {len(Path('README.md').read_text().splitlines())} lines")


if __name__ == "__main__":
    main()
