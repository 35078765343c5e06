"""``sf360 doctor``: each check on its own line, the fix under what failed, the exit code, no secret printed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_sf360.cli.main import main
from airflow_provider_sf360.testing.config import DEFAULT_CONSUMER_SECRET

pytestmark = pytest.mark.timeout(180)


def test_doctor_passes_a_sound_connection(make_connection: Any, capsys: pytest.CaptureFixture[str]) -> None:
    conn_id = make_connection("sf360_doctor_good")
    assert main(["doctor", conn_id]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{conn_id}: no problem found")
    assert "OK   callback URL" in out and "OK   login host reachable" in out
    assert "WARN stored token" in out and "fix: Set up the OAuth token" in out  # a warning with its fix
    assert DEFAULT_CONSUMER_SECRET not in out


def test_doctor_names_what_to_fix_and_exits_1(make_connection: Any, capsys: pytest.CaptureFixture[str]) -> None:
    conn_id = make_connection("sf360_doctor_bad", callback_url="http://localhost:9/not-registered")
    assert main(["doctor", conn_id]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{conn_id}: problems found") and "FAIL callback URL" in out
    fix = out.split("FAIL callback URL", 1)[1].split("\n")[1]
    assert fix.strip().startswith("fix:") and "External Client App Manager" in fix
    assert main(["doctor", conn_id, "--json"]) == 1
    body = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    checks = {check["name"]: check for check in body["checks"]}
    assert checks["callback URL"]["verdict"] == "fail" and checks["callback URL"]["fix"]
    assert DEFAULT_CONSUMER_SECRET not in json.dumps(body)


def test_doctor_of_an_unknown_connection_or_unreadable_cert_is_a_usage_error(
    make_connection: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "sf360_doctor_nope"]) == 2
    assert "There is no sf360 connection 'sf360_doctor_nope'" in capsys.readouterr().err
    conn_id = make_connection("sf360_doctor_cert", auth_flow="jwt_bearer")
    assert main(["doctor", conn_id, "--cert", "/nonexistent/sf360.crt"]) == 2
    assert "Cannot read the certificate /nonexistent/sf360.crt" in capsys.readouterr().err
