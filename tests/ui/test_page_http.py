"""The page and its routes over HTTP against a real api-server: auth, CSRF, forged state, no secrets."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_sf360.testing import DEFAULT_CONSUMER_SECRET, SalesforceEmulator
from tests.helpers.api_server import ApiServer
from tests.helpers.connections import ConnFactory, stored_connection

from .fleet_helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _callbacks_logged(api_server: ApiServer) -> int:
    return api_server.log_path.read_text().count("/sf360/callback")


def _log_once_callbacks_logged(api_server: ApiServer, count: int) -> str:
    """The api-server's log once ``count`` callback requests are in it (access lines follow the answers)."""
    return wait_for(lambda: (log := api_server.log_path.read_text()).count("/sf360/callback") >= count and log)


def test_anonymous_gets_401_and_viewer_403(api_server: ApiServer, make_connection: ConnFactory) -> None:
    make_connection("sf360_http_auth")
    logged = _callbacks_logged(api_server)
    anon = api_server.session(None)
    assert anon.get(f"{api_server.url}/sf360/", timeout=30).status_code == 401
    html_401 = anon.get(f"{api_server.url}/sf360/", headers={"Accept": "text/html"}, timeout=30)
    assert html_401.status_code == 401 and "Sign in" in html_401.text
    assert anon.post(f"{api_server.url}/sf360/connections/sf360_http_auth/test", timeout=30).status_code == 401
    assert anon.get(f"{api_server.url}/sf360/callback?state=x&code=anon-code", timeout=30).status_code == 401

    # SimpleAuthManager's viewer role may not even read connections: 403 on the page and on every action.
    viewer = api_server.session("viewer")
    assert viewer.get(f"{api_server.url}/sf360/", timeout=30).status_code == 403
    token = _csrf(api_server.session("admin").get(f"{api_server.url}/sf360/", timeout=30).text)  # admin's token
    for action in ("setup", "reset", "test", "delete"):
        answer = viewer.post(
            f"{api_server.url}/sf360/connections/sf360_http_auth/{action}",
            data={"csrf_token": token, "confirm": "yes"}, allow_redirects=False, timeout=30,
        )
        assert answer.status_code == 403, action
    assert viewer.get(f"{api_server.url}/sf360/callback?state=x&code=viewer-code", timeout=30).status_code == 403
    assert stored_connection("sf360_http_auth")["password"] == DEFAULT_CONSUMER_SECRET
    log = _log_once_callbacks_logged(api_server, logged + 2)  # both refused callbacks reached the access log
    assert "anon-code" not in log and "viewer-code" not in log  # refused callbacks are not logged either


def test_post_without_csrf_token_is_refused(api_server: ApiServer, make_connection: ConnFactory) -> None:
    make_connection("sf360_http_csrf")
    admin = api_server.session("admin")
    for data in ({}, {"csrf_token": "forged"}):
        answer = admin.post(
            f"{api_server.url}/sf360/connections/sf360_http_csrf/delete",
            data={**data, "confirm": "yes"}, allow_redirects=False, timeout=30,
        )
        assert answer.status_code == 403
    assert stored_connection("sf360_http_csrf")["password"] == DEFAULT_CONSUMER_SECRET


def test_setup_redirect_carries_pkce_and_signed_state_but_no_secret(
    api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator
) -> None:
    make_connection("sf360_http_setup")
    admin = api_server.session("admin")
    token = _csrf(admin.get(f"{api_server.url}/sf360/", timeout=30).text)
    answer = admin.post(
        f"{api_server.url}/sf360/connections/sf360_http_setup/setup",
        data={"csrf_token": token}, allow_redirects=False, timeout=30,
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(f"{emu.login_url}/services/oauth2/authorize?")
    assert "code_challenge_method=S256" in location and "code_challenge=" in location
    assert "state=" in location and DEFAULT_CONSUMER_SECRET not in location
    assert "redirect_uri=" + requests_quote(api_server.callback_url()) in location

    # Forged state (valid shape, wrong signature) and tampered state: refused, nothing stored.
    for bad in ("eyJjIjoic2YzNjBfaHR0cF9zZXR1cCJ9.AAAA", "garbage"):
        back = admin.get(f"{api_server.url}/sf360/callback", params={"state": bad, "code": "x"}, timeout=30)
        assert back.status_code == 200 and "Setup refused" in back.text
        assert "not set up" in back.text


def requests_quote(url: str) -> str:
    from urllib.parse import quote

    return quote(url, safe="")


def test_broken_connection_shows_its_errors(api_server: ApiServer, make_connection: ConnFactory) -> None:
    make_connection("sf360_http_broken", org_id="not-an-id")
    page = api_server.session("admin").get(f"{api_server.url}/sf360/", timeout=30)
    assert page.status_code == 200
    assert "invalid connection" in page.text and "Org ID" in page.text
    assert DEFAULT_CONSUMER_SECRET not in page.text


def _start_setup(api_server: ApiServer, conn_id: str) -> tuple[requests.Session, str]:
    admin = api_server.session("admin")
    token = _csrf(admin.get(f"{api_server.url}/sf360/", timeout=30).text)
    answer = admin.post(
        f"{api_server.url}/sf360/connections/{conn_id}/setup",
        data={"csrf_token": token}, allow_redirects=False, timeout=30,
    )
    assert answer.status_code == 303
    return admin, answer.headers["location"]


def test_callback_stores_token_once_and_never_logs_the_code(
    api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator
) -> None:
    make_connection("sf360_http_round")
    logged = _callbacks_logged(api_server)
    admin, authorize = _start_setup(api_server, "sf360_http_round")
    redirect = emu.authorize_headless(authorize)
    assert redirect.startswith(api_server.callback_url())
    code = parse_qs(urlsplit(redirect).query)["code"][0]

    back = admin.get(redirect, timeout=60)
    assert back.status_code == 200 and back.url == f"{api_server.url}/sf360/"
    assert "is set up for org" in back.text
    assert re.search(r'data-field="status">active<', back.text)

    replay = admin.get(redirect, timeout=60)  # single use: the same code and state again
    assert "unknown, already used" in replay.text or "Setup refused" in replay.text
    log = _log_once_callbacks_logged(api_server, logged + 2)
    assert code not in log


def test_state_of_another_user_is_refused(
    api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator
) -> None:
    make_connection("sf360_http_other")
    from airflow_provider_sf360.service.oauth_state import make_state
    from tests.helpers.api_server import API_SECRET_KEY

    forged = make_state("sf360_http_other", "someone-else", key=API_SECRET_KEY.encode())
    answer = api_server.session("admin").get(
        f"{api_server.url}/sf360/callback", params={"state": forged, "code": "abc"}, timeout=30
    )
    assert "Setup refused: the setup was started by another Airflow user" in answer.text


def test_test_access_on_a_revoked_token_says_so(
    api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator
) -> None:
    from airflow_provider_sf360.testing import DEFAULT_USER_ID

    from .fleet_helpers import set_up_headless

    conn_id = make_connection("sf360_http_revoked")
    set_up_headless(emu, api_server.callback_url(), conn_id)
    emu.revoke_user_tokens(DEFAULT_USER_ID)

    admin = api_server.session("admin")
    page = admin.get(f"{api_server.url}/sf360/", timeout=30).text
    assert f'href="{api_server.url}/connections"' in page
    answer = admin.post(
        f"{api_server.url}/sf360/connections/{conn_id}/test", data={"csrf_token": _csrf(page)}, timeout=60
    )
    assert answer.status_code == 200
    assert 'role="alert"' in answer.text  # a failure message
    # the badge says revoked, its title why (the status detail)
    assert re.search(r'data-field="status" title="[^"]*an admin or the user revoked it[^"]*">revoked<', answer.text)
    assert "failed" in answer.text


def test_machine_flow_setup_runs_directly(
    api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator
) -> None:
    from airflow_provider_sf360.testing import DEFAULT_ORG_ID

    conn_id = make_connection(
        "sf360_http_cc", auth_flow="client_credentials", login_url=emu.my_domain_url(DEFAULT_ORG_ID)
    )
    admin = api_server.session("admin")
    token = _csrf(admin.get(f"{api_server.url}/sf360/", timeout=30).text)
    answer = admin.post(
        f"{api_server.url}/sf360/connections/{conn_id}/setup", data={"csrf_token": token}, timeout=60
    )
    assert answer.url == f"{api_server.url}/sf360/"  # no trip to Salesforce's sign-in page
    assert "is set up for org" in answer.text
    assert re.search(r'data-field="status">active<', answer.text)
