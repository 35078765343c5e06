"""docs/connection.md's ``[sf360]`` option table and ``get_provider_info()["config"]`` list the same options and
defaults."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from airflow_provider_sf360.get_provider_info import get_provider_info

DOC = Path(__file__).resolve().parents[2] / "docs" / "connection.md"
TABLE_HEADING = "## Provider options"
EMPTY_DEFAULT = "empty"


def documented_option_defaults(text: str) -> dict[str, str]:
    """``{option: default}`` from the table under TABLE_HEADING; a row may name several options (`a` / `b`)."""
    lines = text.split(TABLE_HEADING, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = [line for line in itertools.takewhile(lambda line: line.startswith("|"), lines[start:])]
    defaults: dict[str, str] = {}
    for row in rows[2:]:  # past the header and the |---| line
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        names = re.findall(r"`([a-z_]+)`", cells[0])
        values = [EMPTY_DEFAULT] if cells[1] == EMPTY_DEFAULT else re.findall(r"`([^`]*)`", cells[1])
        assert len(names) == len(values), f"README row {row!r}: {len(names)} options but {len(values)} defaults"
        for name, value in zip(names, values, strict=True):
            defaults[name] = "" if value == EMPTY_DEFAULT else value
    return defaults


def test_the_documentation_lists_every_option_with_its_default() -> None:
    options = get_provider_info()["config"]["sf360"]["options"]
    declared = {name: str(option["default"] or "") for name, option in options.items()}
    documented = documented_option_defaults(DOC.read_text())
    missing, extra = sorted(set(declared) - set(documented)), sorted(set(documented) - set(declared))
    assert not missing and not extra, f"docs/connection.md lacks {missing}; lists unknown options {extra}"
    wrong = {name: (documented[name], declared[name]) for name in declared if documented[name] != declared[name]}
    assert not wrong, f"documented default != get_provider_info() default: {wrong}"


def test_the_table_parser_reads_combined_rows() -> None:
    table = f"""{TABLE_HEADING}

| Option | Default | Meaning |
|---|---|---|
| `a` | empty | x |
| `b` / `c` | `0.5` / `8` | y |
"""
    assert documented_option_defaults(table) == {"a": "", "b": "0.5", "c": "8"}
