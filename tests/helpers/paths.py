"""Where things are in the checkout."""

from __future__ import annotations

import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
ARTIFACTS = REPO_ROOT / "test-artifacts"
