"""``sf360 status`` over a fleet with invalid connections and orphans, a closed pipe, ``keygen`` and ``prune``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_sf360.cli.main import main

pytestmark = pytest.mark.timeout(180)


def _out_json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def stored_connection(conn_id: str) -> dict[str, Any]:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one()
        return {"password": conn.password, "extra": conn.extra_dejson}


def test_status_lists_invalid_rows_and_exits_non_zero_only_for_what_was_asked(
    make_connection: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_connection("sf360_clif_good")
    bad = make_connection("sf360_clif_bad", org_id="nope")
    assert main(["status"]) == 0  # the whole list: an invalid row is a row, not a failure
    out = capsys.readouterr().out
    assert f"{good}: not set up" in out and f"{bad}: invalid connection" in out and "Org ID" in out
    assert main(["status", "--json"]) == 0
    rows = {r["conn_id"]: r for r in _out_json(capsys)}
    assert rows[bad]["status"] == "invalid" and "Org ID" in rows[bad]["error"]
    assert main(["status", good]) == 0
    capsys.readouterr()
    assert main(["status", bad]) == 2  # asked for, and unusable
    assert main(["status", "nope"]) == 2
    err = capsys.readouterr().err
    assert "There is no sf360 connection 'nope'" in err and "connection ''" not in err
    assert main(["test", "nope"]) == 2
    assert "There is no sf360 connection 'nope'" in capsys.readouterr().err


@pytest.mark.slow  # the console script in a subprocess
def test_status_survives_a_closed_pipe(make_connection: Any) -> None:
    for index in range(3):
        make_connection(f"sf360_clif_pipe{index}")
    script = Path(sys.executable).with_name("sf360")
    proc = subprocess.Popen([str(script), "status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # like `sf360 status | head -1`: one line, then the reader is gone
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err[-3000:]


def test_keygen_stores_the_key_and_prints_the_certificate(
    make_connection: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    conn_id = make_connection("sf360_clif_keygen")
    cert_file = tmp_path / "sf360.crt"
    assert main(["keygen", conn_id, "--out", str(cert_file)]) == 0
    captured = capsys.readouterr()
    assert "Use digital signatures" in captured.err and "App Manager" in captured.err
    assert "PRIVATE KEY" not in captured.out + captured.err
    cert = x509.load_pem_x509_certificate(captured.out.encode())
    assert cert_file.read_text().strip() == captured.out.strip()
    key_pem = stored_connection(conn_id)["extra"]["private_key"]
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert main(["keygen", conn_id]) == 2  # a key is there: refuse without --force
    assert "--force" in capsys.readouterr().err
    assert stored_connection(conn_id)["extra"]["private_key"] == key_pem
    assert main(["keygen", conn_id, "--force", "--json"]) == 0
    assert "BEGIN CERTIFICATE" in _out_json(capsys)["certificate"]
    assert stored_connection(conn_id)["extra"]["private_key"] != key_pem


def test_orphaned_state_is_listed_and_pruned(
    make_connection: Any, emu: Any, callback_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from airflow_provider_sf360.service.actions import SF360Actions

    conn_id = make_connection("sf360_clif_orphan")
    actions = SF360Actions(conn_id)
    url = actions.start_authorization(redirect_uri=callback_url)
    assert actions.complete_authorization(emu.authorize_headless(url)).ok
    hook = actions.hook
    state = hook.lifecycle.store.load()
    assert state is not None
    with create_session() as session:  # like `airflow connections delete`: the token state stays behind
        session.execute(delete(Connection).where(Connection.conn_id == conn_id))
    assert main(["status"]) == 0
    assert "orphaned token state" in capsys.readouterr().out
    assert main(["prune"]) == 2  # no terminal: refuses without --yes
    capsys.readouterr()
    assert main(["prune", "--yes", "--json"]) == 0
    pruned = _out_json(capsys)["pruned"]
    assert hook.credentials.state_key == f"sf360_token__{conn_id}"
    assert any(p["state_key"] == hook.credentials.state_key and p["ok"] for p in pruned)
    userinfo = requests.get(f"{state.instance_url}/services/oauth2/userinfo", verify=emu.ca_bundle, timeout=30,
                            headers={"Authorization": f"Bearer {state.access_token}"})
    assert userinfo.status_code == 401
    assert main(["prune", "--yes"]) == 0 and "No orphaned token state" in capsys.readouterr().out
