"""The ``sf360`` command against the Salesforce emulator: loopback setup, test, reset, delete, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_sf360.cli.main import main
from airflow_provider_sf360.testing import DEFAULT_ORG_ID, DEFAULT_USERNAME, SalesforceEmulator
from tests.helpers.connections import ConnFactory, stored_connection

pytestmark = pytest.mark.timeout(120)


def _play_browser(emu: SalesforceEmulator, allow: bool = True) -> Any:
    """Stands in for ``webbrowser.open``: sign in at the emulator, then follow the redirect to the loopback."""

    def open_url(url: str) -> bool:
        def run() -> None:
            redirect = emu.authorize_headless(url, allow=allow)
            requests.get(redirect, timeout=30)

        threading.Thread(target=run, daemon=True).start()
        return True

    return open_url


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = capsys.readouterr().out.strip().splitlines()
    return dict(json.loads(out[-1]))


def test_setup_test_reset_delete_in_process(
    make_connection: ConnFactory, emu: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn_id = make_connection("sf360_cli_main")
    assert main(["status", conn_id, "--json"]) == 0
    assert _json(capsys)["status"] == "not_set_up"
    assert main(["test", conn_id]) == 1  # not set up yet
    assert "Set up the OAuth token" in capsys.readouterr().out

    monkeypatch.setattr("webbrowser.open", _play_browser(emu))
    assert main(["setup", conn_id, "--json", "--timeout", "60"]) == 0
    result = _json(capsys)
    assert result["ok"] is True and result["status"] == "active"
    assert result["token"]["set_up_by"].startswith("cli:")

    assert main(["test", conn_id]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: Access test succeeded") and DEFAULT_USERNAME in out

    assert main(["status", conn_id]) == 0
    out = capsys.readouterr().out
    assert f"{conn_id}: active" in out and "last test: succeeded" in out

    before = stored_connection(conn_id)
    assert main(["reset", conn_id, "--json"]) == 0
    assert _json(capsys)["status"] == "not_set_up"
    assert stored_connection(conn_id) == before

    monkeypatch.setattr("webbrowser.open", _play_browser(emu))
    assert main(["setup", conn_id, "--timeout", "60"]) == 0
    capsys.readouterr()
    assert main(["delete", conn_id, "--yes", "--json"]) == 0
    result = _json(capsys)
    assert result["ok"] is True and result["secret_fields_removed"] == ["password"]
    stored = stored_connection(conn_id)
    assert stored["password"] is None and stored["extra"]["org_id"] == DEFAULT_ORG_ID
    assert main(["test", conn_id]) == 1


@pytest.mark.slow  # waits out the CLI's timeout
def test_deny_and_timeout_fail_with_exit_1(
    make_connection: ConnFactory, emu: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn_id = make_connection("sf360_cli_deny")
    monkeypatch.setattr("webbrowser.open", _play_browser(emu, allow=False))
    assert main(["setup", conn_id, "--timeout", "60"]) == 1
    assert "access_denied" in capsys.readouterr().err
    monkeypatch.setattr("webbrowser.open", lambda url: True)
    assert main(["setup", conn_id, "--timeout", "1", "--json"]) == 1
    assert "No answer from Salesforce within 1 s" in _json(capsys)["message"]
    assert main(["status", conn_id, "--json"]) == 0
    assert _json(capsys)["status"] == "not_set_up"


def test_forged_state_on_the_loopback_is_ignored(
    make_connection: ConnFactory, emu: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], callback_url: str,
) -> None:
    """A forged request to the callback path gets 400 and the setup keeps waiting for the real redirect."""
    conn_id = make_connection("sf360_cli_forged")
    forged: list[int] = []
    browser = _play_browser(emu)

    def attacker_then_browser(url: str) -> bool:
        forged.append(requests.get(f"{callback_url}?code=evil&state=forged", timeout=30).status_code)
        return bool(browser(url))

    monkeypatch.setattr("webbrowser.open", attacker_then_browser)
    assert main(["setup", conn_id, "--timeout", "30", "--json"]) == 0
    assert forged == [400]
    assert _json(capsys)["status"] == "active"


def test_usage_errors_exit_2(make_connection: ConnFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "sf360_cli_missing"]) == 2
    broken = make_connection("sf360_cli_broken", org_id="nope")
    assert main(["test", broken, "--json"]) == 2
    assert "Org ID" in _json(capsys)["message"]
    remote = make_connection("sf360_cli_remote", callback_url="https://airflow.example.com/sf360/callback")
    assert main(["setup", remote, "--no-browser"]) == 2
    assert "not a loopback URL" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_delete_asks_for_confirmation(make_connection: ConnFactory, capsys: pytest.CaptureFixture[str]) -> None:
    conn_id = make_connection("sf360_cli_confirm")
    assert main(["delete", conn_id]) == 2  # no terminal under pytest: refuses without --yes
    assert stored_connection(conn_id)["password"] is not None


def test_client_credentials_setup_runs_directly(
    make_connection: ConnFactory, emu: SalesforceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    conn_id = make_connection(
        "sf360_cli_cc", auth_flow="client_credentials", login_url=emu.my_domain_url(DEFAULT_ORG_ID), callback_url=None
    )
    assert main(["setup", conn_id]) == 0
    assert "is set up for org" in capsys.readouterr().out


@pytest.mark.slow  # the console script in a subprocess
def test_console_script_loopback_flow(make_connection: ConnFactory, emu: SalesforceEmulator) -> None:
    """The installed ``sf360`` script with ``--no-browser``: the test copies the printed URL like a person."""
    conn_id = make_connection("sf360_cli_script")
    script = Path(sys.executable).with_name("sf360")
    proc = subprocess.Popen(
        [str(script), "setup", conn_id, "--no-browser", "--json", "--timeout", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:
            if line.startswith("https://"):
                url = line.strip()
                break
        assert "code_challenge_method=S256" in url
        requests.get(emu.authorize_headless(url), timeout=30)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ok"] is True and result["status"] == "active"
    status = subprocess.run(
        [str(script), "status", conn_id, "--json"], capture_output=True, text=True, timeout=60, check=False
    )
    assert status.returncode == 0 and json.loads(status.stdout.strip().splitlines()[-1])["status"] == "active"
