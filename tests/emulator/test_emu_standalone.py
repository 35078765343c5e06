"""Standalone server (python -m ... serve), EmulatorClient, JSON config, plugin import cost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests_oauthlib import OAuth2Session

from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_USER_ID,
    EmulatorClient,
    EmulatorConfig,
    EmulatorControlError,
    SalesforceEmulator,
)

CALLBACK = "https://127.0.0.1/sf360/callback"


def test_plugin_import_is_cheap() -> None:
    code = ("import sys, airflow_provider_sf360.testing.pytest_plugin, airflow_provider_sf360.testing as t;"
            "bad=[m for m in sys.modules if m.startswith(('airflow_provider_sf360.testing.emulator','airflow.',"
            "'cryptography','jwt','requests'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_config_round_trip(tmp_path) -> None:
    cfg = EmulatorConfig.default()
    path = tmp_path / "world.json"
    path.write_text(json.dumps(cfg.to_dict()))
    again = EmulatorConfig.from_json(path)
    assert again == cfg
    data = cfg.to_dict()
    data["users"][0]["org_id"] = "00D000000000001"
    with pytest.raises(ValueError, match="unknown org"):
        EmulatorConfig.from_dict(data).validate()
    data = cfg.to_dict()
    data["apps"][0]["refresh_token_policy"] = "sometimes"
    with pytest.raises(ValueError):
        EmulatorConfig.from_dict(data)


def test_standalone_server_and_client(tmp_path) -> None:
    cfg = EmulatorConfig.default().to_dict()
    cfg["apps"][0]["rotation"] = True
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    state = tmp_path / "state.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_sf360.testing", "serve", "--config", str(tmp_path / "cfg.json"),
         "--auto-approve", "--state-file", str(state), "--callback-url", "https://127.0.0.1:9/cb"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert json.loads(state.read_text()) == info
        assert {"login_url", "test_url", "ca_bundle", "control_url", "jwt_private_key_file", "orgs"} <= set(info)
        client = EmulatorClient(info["control_url"], info["ca_bundle"])
        oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, pkce="S256")
        url, _ = oauth.authorization_url(info["login_url"] + "/services/oauth2/authorize")
        redirect = client.authorize_headless(url)
        assert "code=" in redirect
        tok = oauth.fetch_token(info["login_url"] + "/services/oauth2/token", authorization_response=redirect,
                                client_secret=DEFAULT_CONSUMER_SECRET, verify=info["ca_bundle"])
        assert tok["instance_url"] == info["orgs"][DEFAULT_ORG_ID]["my_domain_url"]
        client.inject_fault("token", "503")
        r = requests.post(info["login_url"] + "/services/oauth2/token", verify=info["ca_bundle"], timeout=10,
                          data={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"],
                                "client_id": DEFAULT_CONSUMER_KEY, "client_secret": DEFAULT_CONSUMER_SECRET})
        assert r.status_code == 503
        assert client.request_counts()["token:refresh_token"] == 1
        assert client.revoke_user_tokens(DEFAULT_USER_ID) >= 1
        assert client.reuse_detections == 0
        client.set_app(DEFAULT_CONSUMER_KEY, session_timeout=60)
        client.advance_clock(1)
        client.deactivate_user(DEFAULT_USER_ID)
        client.activate_user(DEFAULT_USER_ID)
        client.approve(DEFAULT_USER_ID, DEFAULT_CONSUMER_KEY)
        client.add_callback_url("https://127.0.0.1:10/cb")
        for cb in ("https://127.0.0.1:9/cb", "https://127.0.0.1:10/cb"):
            oauth2 = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=cb, pkce="S256")
            url2, _ = oauth2.authorization_url(info["login_url"] + "/services/oauth2/authorize")
            assert client.authorize_headless(url2).startswith(cb + "?code=")
        assert len(client.request_log()) >= 3
        with pytest.raises(EmulatorControlError):
            client.deactivate_user("not-an-id")
        client.reset()
        assert client.request_counts() == {}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not state.exists()


def test_context_manager_stops_cleanly() -> None:
    before = threading.active_count()
    with SalesforceEmulator() as emu:
        requests.get(emu.login_url + "/services/data/", verify=emu.ca_bundle, timeout=10)
        session = requests.Session()
        session.get(emu.login_url + "/.well-known/openid-configuration", verify=emu.ca_bundle, timeout=10)
        ca = emu.ca_bundle
    assert threading.active_count() == before
    assert not os.path.exists(ca)


def test_concurrent_clients(emu, instance) -> None:
    def work(i: int) -> int:
        with requests.Session() as s:
            r = s.post(instance + "/services/oauth2/token", timeout=30,
                       data={"grant_type": "client_credentials"}, auth=(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET))
            tok = r.json()["access_token"]
            s.headers["Authorization"] = "Bearer " + tok
            for _ in range(5):
                s.get(instance + "/services/data/v59.0/limits", timeout=30).raise_for_status()
            return r.status_code

    with ThreadPoolExecutor(32) as pool:
        assert set(pool.map(work, range(64))) == {200}
    counts = emu.request_counts()
    assert counts["token:client_credentials"] == 64 and counts["rest"] == 320
