"""`make demo` must keep working: run it as a user would and check each step's outcome."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.paths import REPO_ROOT

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_lifecycle() -> None:
    env_keep = {"PATH", "HOME", "LANG"}
    import os

    env = {k: v for k, v in os.environ.items() if k in env_keep}  # a fresh environment, like a new shell
    out = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "demo.py")], capture_output=True, text=True,
                         timeout=300, env=env, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for expected in ("Access test succeeded", "sf360_sync finished: success", '"status": "not_set_up"',
                     '"token_removed": true', "Demo finished"):
        assert expected in out.stdout
