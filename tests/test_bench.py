"""`make bench` keeps working: its four benchmarks run end to end in their quick form against the emulator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.paths import REPO_ROOT


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_benchmark_runs_and_a_cached_token_is_never_fetched_again() -> None:
    result = subprocess.run([sys.executable, "bench/run_all.py", "--quick"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=280, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    for title in ("### 1.", "### 2.", "### 3.", "### 4."):
        assert title in result.stdout
    assert "0 token requests during the calls" in result.stdout
    parallel_rows = [line for line in result.stdout.split("### 4.", 1)[1].split("###", 1)[0].splitlines()
                     if line.startswith("| sf360")]
    assert parallel_rows and all(row.endswith("| 0 |") for row in parallel_rows), parallel_rows  # no failed task
