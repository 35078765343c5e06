"""docs/troubleshooting.md has an entry for every row of the error table (its error, description and advice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_sf360.core.oauth_errors import ERROR_TABLE, ErrorRule

DOC = (Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md").read_text()


@pytest.mark.parametrize("rule", ERROR_TABLE, ids=lambda r: f"{r.errors[0]}:{r.description or 'any'}")
def test_every_error_class_is_documented_with_its_message(rule: ErrorRule) -> None:
    advice = rule.advice.replace("|", "/")
    rows = [line for line in DOC.splitlines() if line.startswith(f"| `{rule.errors[0]}`")
            and (f"`{rule.description}`" if rule.description else "| any |") in line]
    assert any(advice in row for row in rows), f"no troubleshooting row for {rule.errors} / {rule.description!r}"
