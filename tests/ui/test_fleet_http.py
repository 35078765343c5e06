"""The fleet page over HTTP against a real api-server: framing, callback spelling, CSRF per session, shared and
orphaned token state, prune, the Callback URL from ``[api] base_url``, and every page action in Airflow's audit
log (``/api/v2/eventLogs``), including entries sent by tasks to ``POST /sf360/api/audit``."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from airflow_provider_sf360.testing import DEFAULT_CONSUMER_SECRET, DEFAULT_ORG_ID, DEFAULT_USER_ID

from .fleet_helpers import csrf_of, event_logs, extra_of, set_up_headless, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_pages_refuse_framing_by_other_origins(api_server: Any, make_connection: Any) -> None:
    make_connection("sf360_fleet_frame")
    page = api_server.session("admin").get(f"{api_server.url}/sf360/", timeout=30)
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    confirm = api_server.session("admin").get(
        f"{api_server.url}/sf360/connections/sf360_fleet_frame/delete/confirm", timeout=30
    )
    assert confirm.status_code == 200 and confirm.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_callback_with_trailing_slash_never_logs_the_code(api_server: Any, make_connection: Any) -> None:
    logged = api_server.log_path.read_text().count("/sf360/callback/")
    anon = api_server.session(None)
    answer = anon.get(f"{api_server.url}/sf360/callback/?code=slash-anon-code&state=x", allow_redirects=False,
                      timeout=30)
    assert answer.status_code == 401  # no trailing-slash redirect that would log the query first
    admin = api_server.session("admin")
    back = admin.get(f"{api_server.url}/sf360/callback/?code=slash-admin-code&state=forged", timeout=30)
    assert back.status_code == 200 and "Setup refused" in back.text
    # both requests are in the access log (written after the answers): then nothing logged the codes
    log = wait_for(lambda: (text := api_server.log_path.read_text()).count("/sf360/callback/") >= logged + 2 and text)
    assert "slash-anon-code" not in log and "slash-admin-code" not in log


def test_csrf_token_of_another_session_is_refused(api_server: Any, make_connection: Any) -> None:
    make_connection("sf360_fleet_csrf")
    admin = api_server.session("admin")
    token = csrf_of(admin.get(f"{api_server.url}/sf360/", timeout=30).text)

    def new_sign_in() -> str | None:  # a new sign-in of the same user: another JWT (its iat moves each second)
        fresh = requests.post(f"{api_server.url}/auth/token",
                              json={"username": "admin", "password": api_server.passwords["admin"]}, timeout=30)
        jwt = fresh.json()["access_token"]
        return jwt if jwt != admin.cookies.get("_token") else None

    other = requests.Session()
    other.cookies.set("_token", wait_for(new_sign_in, interval=0.1), domain="127.0.0.1", path="/")
    answer = other.post(f"{api_server.url}/sf360/connections/sf360_fleet_csrf/test",
                        data={"csrf_token": token}, allow_redirects=False, timeout=30)
    assert answer.status_code == 403
    same = admin.post(f"{api_server.url}/sf360/connections/sf360_fleet_csrf/test",
                      data={"csrf_token": token}, allow_redirects=False, timeout=60)
    assert same.status_code == 303


def test_callback_url_follows_base_url_not_the_host_header(api_server: Any, make_connection: Any) -> None:
    make_connection("sf360_fleet_base")
    port = api_server.url.rsplit(":", 1)[1]
    headers = {"Host": f"localhost:{port}", "Authorization": f"Bearer {api_server.token('admin')}"}
    page = requests.get(f"{api_server.url}/sf360/", headers=headers, timeout=30)
    assert page.status_code == 200
    assert f'data-testid="callback-url">{api_server.url}/sf360/callback<' in page.text


def test_shared_credentials_are_named_on_the_page_and_in_confirmations(
    api_server: Any, make_connection: Any, emu: Any
) -> None:
    """Identical fields share nothing by themselves; an explicit share (``sf360 share``) is named on both rows and
    in the reset and delete confirmations of both connections."""
    from airflow_provider_sf360.cli.main import main

    make_connection("sf360_fleet_share_a")
    make_connection("sf360_fleet_share_b")
    set_up_headless(emu, api_server.callback_url(), "sf360_fleet_share_a")
    admin = api_server.session("admin")
    page = admin.get(f"{api_server.url}/sf360/", timeout=30).text
    assert "shared with" not in page and "token of sf360_fleet_share_a" not in page  # a copy reaches nothing
    assert main(["share", "sf360_fleet_share_a", "sf360_fleet_share_b", "--json"]) == 0
    page = admin.get(f"{api_server.url}/sf360/", timeout=30).text
    assert "shared with sf360_fleet_share_b" in page and "token of sf360_fleet_share_a" in page
    assert "shared with sf360_fleet_share_a" not in page
    for action in ("reset", "delete"):
        confirm = admin.get(f"{api_server.url}/sf360/connections/sf360_fleet_share_a/{action}/confirm", timeout=30)
        assert "The token is shared with sf360_fleet_share_b" in confirm.text, action
        confirm = admin.get(f"{api_server.url}/sf360/connections/sf360_fleet_share_b/{action}/confirm", timeout=30)
        assert "This connection uses the OAuth token of\nsf360_fleet_share_a" in confirm.text, action


def test_orphaned_token_state_is_listed_and_pruned(api_server: Any, make_connection: Any, emu: Any) -> None:
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    conn_id = make_connection("sf360_fleet_orphan")
    set_up_headless(emu, api_server.callback_url(), conn_id)
    hook = SF360Hook(conn_id)
    state_key = hook.credentials.state_key
    state = hook.lifecycle.store.load()
    assert state is not None
    admin_token = api_server.token("admin")
    # Airflow's own Connections API deletes the connection: its token state is left behind.
    deleted = requests.delete(f"{api_server.url}/api/v2/connections/{conn_id}",
                              headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
    assert deleted.status_code == 204
    admin = api_server.session("admin")
    page = admin.get(f"{api_server.url}/sf360/", timeout=30).text
    assert f'data-orphan="{state_key}"' in page and ">orphaned<" in page

    answer = admin.post(f"{api_server.url}/sf360/orphans/prune",
                        data={"csrf_token": csrf_of(page), "state_key": state_key}, timeout=60)
    assert "Orphaned token state removed; its tokens are revoked at Salesforce" in answer.text
    assert f'data-orphan="{state_key}"' not in answer.text
    userinfo = requests.get(f"{state.instance_url}/services/oauth2/userinfo",
                            headers={"Authorization": f"Bearer {state.access_token}"}, verify=emu.ca_bundle, timeout=30)
    assert userinfo.status_code == 401  # dead at Salesforce
    (entry,) = event_logs(api_server.url, admin_token, "sf360.prune", state_key)[:1]
    assert entry["owner"] == "admin" and extra_of(entry)["outcome"] == "success"


def test_test_access_answers_json_for_the_page_script(api_server: Any, make_connection: Any, emu: Any) -> None:
    conn_id = make_connection("sf360_fleet_json")
    set_up_headless(emu, api_server.callback_url(), conn_id)
    admin = api_server.session("admin")
    token = csrf_of(admin.get(f"{api_server.url}/sf360/", timeout=30).text)
    answer = admin.post(f"{api_server.url}/sf360/connections/{conn_id}/test", data={"csrf_token": token},
                        headers={"Accept": "application/json"}, timeout=60)
    body = answer.json()
    assert body["ok"] is True and body["status"] == "active" and "Access test succeeded" in body["message"]
    assert body["last_test"]["ok"] is True


def test_diagnose_on_the_page_lists_each_check_and_is_audited(api_server: Any, make_connection: Any) -> None:
    sound = make_connection("sf360_fleet_diagnose")
    typo = make_connection("sf360_fleet_diagnose_typo", api_version="sixty")
    admin = api_server.session("admin")
    token = csrf_of(admin.get(f"{api_server.url}/sf360/", timeout=30).text)

    def diagnose(conn_id: str) -> requests.Response:
        return admin.post(f"{api_server.url}/sf360/connections/{conn_id}/diagnose", data={"csrf_token": token},
                          headers={"Accept": "application/json"}, timeout=60)

    answer = diagnose(sound)
    checks = {check["name"]: check for check in answer.json()["checks"]}
    assert answer.json()["ok"] is True and checks["callback URL"]["verdict"] == "ok"
    assert api_server.callback_url() in checks["callback URL"]["message"]  # the page's own Callback URL
    answer = diagnose(typo)
    checks = {check["name"]: check for check in answer.json()["checks"]}
    assert answer.json()["ok"] is False and checks["fields"]["verdict"] == "fail"
    assert "API Version" in checks["fields"]["message"]
    assert answer.json()["message"].startswith(f"Diagnosis of {typo!r}: fields: ")
    assert DEFAULT_CONSUMER_SECRET not in answer.text
    for conn_id, outcome in ((sound, "success"), (typo, "failed")):
        entries = event_logs(api_server.url, api_server.token("admin"), "sf360.diagnose", conn_id)
        assert entries and entries[0]["owner"] == "admin" and extra_of(entries[0])["outcome"] == outcome
    no_csrf = admin.post(f"{api_server.url}/sf360/connections/{sound}/diagnose", data={}, timeout=30)
    assert no_csrf.status_code in (400, 403, 422)


def test_every_page_action_is_in_the_audit_log(api_server: Any, make_connection: Any, emu: Any) -> None:
    admin_token = api_server.token("admin")
    conn_id = make_connection("sf360_fleet_audit")
    admin = api_server.session("admin")
    token = csrf_of(admin.get(f"{api_server.url}/sf360/", timeout=30).text)

    def post(action: str, **data: str) -> requests.Response:
        return admin.post(f"{api_server.url}/sf360/connections/{conn_id}/{action}",
                          data={"csrf_token": token, **data}, allow_redirects=False, timeout=60)

    authorize = post("setup").headers["location"]  # authorization_code: the sign-in starts
    admin.get(emu.authorize_headless(authorize, allow=False), timeout=60)
    authorize = post("setup").headers["location"]
    admin.get(emu.authorize_headless(authorize), timeout=60)
    post("test")
    post("reset")
    post("delete", confirm="yes")
    expected = {
        "sf360.setup": "started", "sf360.authorization_denied": "failed", "sf360.authorization_completed": "success",
        "sf360.test_access": "success", "sf360.reset": "success", "sf360.delete": "success",
    }
    for event, outcome in expected.items():
        entries = event_logs(api_server.url, admin_token, event, conn_id)
        assert entries, event
        extra = extra_of(entries[0])
        assert entries[0]["owner"] == "admin" and extra["outcome"] == outcome and extra["source"] == "page", event
        assert DEFAULT_CONSUMER_SECRET not in str(entries[0])


def test_tasks_write_audit_entries_with_a_proof(api_server: Any, make_connection: Any) -> None:
    from airflow_provider_sf360.core.proof import proven_request
    from airflow_provider_sf360.store.audit import PROOF_PURPOSE

    conn_id = make_connection("sf360_fleet_task_audit")
    fields = {"event": "test_access", "conn_id": conn_id, "outcome": "success", "dag_id": "d1", "task_id": "t1",
              "run_id": "r1", "message": "Access test succeeded"}
    now = int(time.time())
    good = proven_request(DEFAULT_CONSUMER_SECRET, purpose=PROOF_PURPOSE, fields=fields, timestamp=now)
    bad = proven_request("not-the-secret", purpose=PROOF_PURPOSE, fields=fields, timestamp=now)
    url = f"{api_server.url}/sf360/api/audit"
    assert requests.post(url, json=bad, timeout=30).status_code == 403
    forged = {**good, "outcome": "failed"}  # the proof covers every field
    assert requests.post(url, json=forged, timeout=30).status_code == 403
    assert requests.post(url, json=good, timeout=30).status_code == 200
    # /api/v2/eventLogs lists entries of DAGs the caller may read, and "d1" is not a DAG of this test DB:
    # read the row itself (an entry of a real DAG shows there to users who may read that DAG).
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = [r for r in session.scalars(select(Log).where(Log.event == "sf360.test_access")).all()
                if extra_of({"extra": r.extra}).get("conn_id") == conn_id]
        assert len(rows) == 1
        assert (rows[0].dag_id, rows[0].task_id, rows[0].run_id) == ("d1", "t1", "r1")
        assert extra_of({"extra": rows[0].extra})["source"] == "task" and rows[0].owner == "task:d1.t1"


def test_status_filter_values_cover_every_row(api_server: Any, make_connection: Any) -> None:
    make_connection("sf360_fleet_invalid", org_id="nope")
    make_connection("sf360_fleet_fine")
    page = api_server.session("admin").get(f"{api_server.url}/sf360/", timeout=30).text
    assert 'data-conn-id="sf360_fleet_invalid" data-status="invalid"' in page
    assert 'data-conn-id="sf360_fleet_fine" data-status="not_set_up"' in page
    for status in ("active", "expired", "revoked", "identity_mismatch", "not_set_up", "invalid", "orphaned"):
        assert f'<option value="{status}">' in page
    assert DEFAULT_ORG_ID in page and DEFAULT_USER_ID in page


OPERATORS_DAG = '''
import pendulum
from airflow.sdk import DAG

from airflow_provider_sf360.operators.oauth import SF360SetupOAuthOperator, SF360TestAccessOperator

with DAG("sf360_audit_operators", schedule=None, start_date=pendulum.datetime(2024, 1, 1)):
    setup = SF360SetupOAuthOperator(task_id="setup", sf360_conn_id="sf360_fleet_ops")
    setup >> SF360TestAccessOperator(task_id="test_access", sf360_conn_id="sf360_fleet_ops")
'''


def test_operator_actions_reach_the_audit_log_through_the_api_server(
    api_server: Any, make_connection: Any, emu: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real tasks (``dag.test()``): each operator's entry goes to ``POST /sf360/api/audit`` with a proof."""
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag

    conn_id = make_connection("sf360_fleet_ops", auth_flow="client_credentials",
                              login_url=emu.my_domain_url(DEFAULT_ORG_ID))
    (tmp_path / "sf360_audit_operators.py").write_text(OPERATORS_DAG)
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__SF360__API_SERVER_URL", api_server.url)  # where tasks reach the plugin API
    # dag.test() runs tasks in-process, where the audit row is written directly; behave as a worker would.
    from airflow_provider_sf360.store import variables

    monkeypatch.setattr(variables, "running_in_test_supervisor", lambda: False)
    bag = DagBag(dag_folder=str(tmp_path / "sf360_audit_operators.py"))
    assert not bag.import_errors, bag.import_errors
    run = bag.dags["sf360_audit_operators"].test()
    assert str(run.state) == "success"
    admin_token = api_server.token("admin")
    for event, task_id in (("sf360.setup", "setup"), ("sf360.test_access", "test_access")):
        entries = event_logs(api_server.url, admin_token, event, conn_id)
        assert entries, event
        entry = entries[0]
        assert entry["dag_id"] == "sf360_audit_operators" and entry["task_id"] == task_id
        assert entry["run_id"] == run.run_id and extra_of(entry)["outcome"] == "success"
        assert extra_of(entry)["source"] == "task" and DEFAULT_CONSUMER_SECRET not in str(entry)


def test_cli_actions_reach_the_audit_log(api_server: Any, make_connection: Any, emu: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_sf360.cli.main import main

    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
    conn_id = make_connection("sf360_fleet_cli", auth_flow="client_credentials",
                              login_url=emu.my_domain_url(DEFAULT_ORG_ID))
    assert main(["setup", conn_id]) == 0
    assert main(["test", conn_id]) == 0
    assert main(["reset", conn_id]) == 0
    assert main(["delete", conn_id, "--yes"]) == 0
    admin_token = api_server.token("admin")
    for event in ("sf360.setup", "sf360.test_access", "sf360.reset", "sf360.delete"):
        entries = event_logs(api_server.url, admin_token, event, conn_id)
        assert entries, event
        assert entries[0]["owner"].startswith("cli:") and extra_of(entries[0])["source"] == "cli"
        assert extra_of(entries[0])["outcome"] == "success"
