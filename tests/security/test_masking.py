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


def test_reading_token_variables_on_the_server_side_adds_nothing_to_the_masker(airflow_db: object) -> None:
    """Loading a ``Variable`` ORM object masks its value (``Variable.on_db_load``), and every new value makes the
    masker recompile one pattern of all values seen before: an api-server renewing all day would slow down all day.
    The provider reads and writes its Variables through the table, so nothing is added (in tasks and the CLI,
    ``mask_token`` masks what must be masked)."""
    import secrets

    from airflow._shared.secrets_masker.secrets_masker import _secrets_masker  # the one Variable.on_db_load feeds
    from airflow.utils.session import create_session

    from airflow_provider_sf360.store.connections import read_orphan
    from airflow_provider_sf360.store.token_store import sweep_expired_pending
    from airflow_provider_sf360.store.variables import MetadataDbVariables, SessionVariables

    variables = MetadataDbVariables()
    value = f'{{"access_token": "masker-probe-{secrets.token_hex(16)}"}}'
    variables.set("sf360_token__masker_probe", value)
    variables.set("sf360_pkce_secret__masker_probe", '{"expires_at": 0}')
    before = list(_secrets_masker().patterns)
    assert variables.get("sf360_token__masker_probe") == value
    with create_session() as session:
        assert SessionVariables(session).get("sf360_token__masker_probe") == value
    assert read_orphan("sf360_token__masker_probe")[0] == value
    assert sweep_expired_pending(variables) >= 1
    assert list(_secrets_masker().patterns) == before
    variables.delete("sf360_token__masker_probe")
    assert variables.get("sf360_token__masker_probe") is None
