"""Tokens are masked in task processes and the CLI, and not added to the api-server's masker (store/masking.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys

import pytest
from airflow.sdk.log import _secrets_masker
from airflow_provider_sf360.store.masking import mask_token
if sys.argv[1] == "api-server":
    from airflow_provider_sf360.plugins.app import create_app
    create_app()
mask_token("a-token-value-of-forty-characters-xxxxxxx")
print(any("forty" in pattern for pattern in _secrets_masker().patterns))
"""


def _masked_in(role: str) -> bool:
    out = subprocess.run([sys.executable, "-c", PROBE, role], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1] == "True"


def test_a_task_or_cli_process_masks_tokens() -> None:
    assert _masked_in("task")


@pytest.mark.slow
def test_the_api_server_does_not_grow_airflows_masker() -> None:
    assert not _masked_in("api-server")
