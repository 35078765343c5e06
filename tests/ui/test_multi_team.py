"""``[core] multi_team``: the page lists and acts on a connection only for users of its team.

A second real api-server with multi-team on; users alice (team_a) and bob (team_b) have the Op role
(SimpleAuthManager lets admins past every team check).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_USER_ID,
)
from airflow_provider_sf360.testing.api_server import running_api_server

from .fleet_helpers import csrf_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
TEAM_CONNECTIONS = {"sf360_team_a_conn": "team_a", "sf360_team_b_conn": "team_b"}


@pytest.fixture(scope="module")
def team_server(airflow_db: Path, salesforce_emulator_session: Any, artifacts_dir: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """An api-server with multi-team on; two teams, one sf360 connection each."""
    from airflow.models.connection import Connection
    from airflow.models.team import Team
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    with create_session() as session:
        for team in ("team_a", "team_b"):
            if session.scalar(select(Team).where(Team.name == team)) is None:
                session.add(Team(name=team))
        session.flush()
        for conn_id, team in TEAM_CONNECTIONS.items():
            session.execute(delete(Connection).where(Connection.conn_id == conn_id))
            session.add(Connection(
                conn_id=conn_id, conn_type="sf360", login=DEFAULT_CONSUMER_KEY, password=DEFAULT_CONSUMER_SECRET,
                extra=json.dumps({"org_id": DEFAULT_ORG_ID, "user_id": DEFAULT_USER_ID,
                                  "login_url": salesforce_emulator_session.login_url}),
                team_name=team,
            ))
    passwords_file = tmp_path_factory.mktemp("teams") / "passwords.json"
    env = {
        **os.environ, "AIRFLOW__CORE__MULTI_TEAM": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "alice:op:team_a,bob:op:team_b",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__API__SECRET_KEY": "sf360-multi-team-tests",
        "REQUESTS_CA_BUNDLE": salesforce_emulator_session.ca_bundle, "_AIRFLOW_PROCESS_CONTEXT": "server",
    }
    try:
        with running_api_server(env, artifacts_dir / "api-server-multi-team.log") as url:
            passwords = json.loads(passwords_file.read_text())
            tokens = {
                user: requests.post(f"{url}/auth/token", json={"username": user, "password": passwords[user]},
                                    timeout=30).json()["access_token"]
                for user in ("alice", "bob")
            }
            yield url, tokens
    finally:
        with create_session() as session:
            session.execute(delete(Connection).where(Connection.conn_id.in_(list(TEAM_CONNECTIONS))))


def _session(token: str) -> requests.Session:
    http = requests.Session()
    http.cookies.set("_token", token, domain="127.0.0.1", path="/")
    return http


def test_each_team_sees_and_acts_on_its_own_connections_only(team_server: tuple[str, dict[str, str]]) -> None:
    url, tokens = team_server
    alice = _session(tokens["alice"])
    page = alice.get(f"{url}/sf360/", timeout=30)
    assert page.status_code == 200
    assert 'data-conn-id="sf360_team_a_conn"' in page.text and "sf360_team_b_conn" not in page.text
    bob_page = _session(tokens["bob"]).get(f"{url}/sf360/", timeout=30).text
    assert 'data-conn-id="sf360_team_b_conn"' in bob_page and "sf360_team_a_conn" not in bob_page
    # Airflow's own REST API agrees.
    own = requests.get(f"{url}/api/v2/connections/sf360_team_b_conn",
                       headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=30)
    assert own.status_code == 403

    token = csrf_of(page.text)
    # A form post on the own team's connection works (no 400 from a JSON body check) ...
    mine = alice.post(f"{url}/sf360/connections/sf360_team_a_conn/test", data={"csrf_token": token},
                      allow_redirects=False, timeout=60)
    assert mine.status_code == 303
    # ... and every action on the other team's connection is refused.
    for action in ("setup", "reset", "test", "delete"):
        other = alice.post(f"{url}/sf360/connections/sf360_team_b_conn/{action}",
                           data={"csrf_token": token, "confirm": "yes"}, allow_redirects=False, timeout=30)
        assert other.status_code == 403, action
    confirm = alice.get(f"{url}/sf360/connections/sf360_team_b_conn/delete/confirm", timeout=30)
    assert confirm.status_code == 403


def test_a_team_connection_is_set_up_and_tested_by_its_team(
    team_server: tuple[str, dict[str, str]], salesforce_emulator: Any
) -> None:
    """The api-server reads a team's connection with its team: the whole sign-in and a test access work."""
    from airflow_provider_sf360.testing import DEFAULT_CALLBACK_URLS

    url, tokens = team_server
    salesforce_emulator.set_app(DEFAULT_CONSUMER_KEY, callback_urls=[*DEFAULT_CALLBACK_URLS, f"{url}/sf360/callback"])
    alice = _session(tokens["alice"])
    token = csrf_of(alice.get(f"{url}/sf360/", timeout=30).text)
    base = f"{url}/sf360/connections/sf360_team_a_conn"
    try:
        setup = alice.post(f"{base}/setup", data={"csrf_token": token}, allow_redirects=False, timeout=60)
        assert setup.status_code == 303
        assert setup.headers["location"].startswith(salesforce_emulator.login_url), setup.headers["location"]
        back = alice.get(salesforce_emulator.authorize_headless(setup.headers["location"]), timeout=60)
        assert back.status_code == 200 and "is set up for org" in back.text, back.text[-2000:]
        tested = alice.post(f"{base}/test", data={"csrf_token": token}, headers={"Accept": "application/json"},
                            timeout=60).json()
        assert tested["ok"] is True and tested["status"] == "active", tested
    finally:  # the token is the default test credential's: leave none behind for other tests
        alice.post(f"{base}/reset", data={"csrf_token": token, "confirm": "yes"}, allow_redirects=False, timeout=60)
