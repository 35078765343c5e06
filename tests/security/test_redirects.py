"""Redirects skip the allow-list.

Before the fix a 307 from the token endpoint made the client re-post ``client_secret`` and ``refresh_token``
to a plain-http host, and a Bulk redirect forwarded ``X-SFDC-Session``. OAuth calls now never follow a
redirect (a 3xx is the provider's error); API calls check every hop and drop the session headers when the
host changes. Fake servers on 127.0.0.1 answer 307 to a plain-http host and to another (allowed) port.
"""

# ruff: noqa: F811  (the tls fixtures are imported from fake_servers and requested by name)
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from airflow_provider_sf360.core.credentials import AuthFlow
from airflow_provider_sf360.core.errors import SalesforceRequestError, SF360Error, UntrustedHostError
from airflow_provider_sf360.core.grants import client_credentials_grant, code_grant, jwt_grant, refresh_grant
from airflow_provider_sf360.core.oauth_client import SalesforceOAuthClient
from airflow_provider_sf360.core.salesforce_session import RenewingSalesforceSession
from airflow_provider_sf360.testing.certs import CertBundle

from .fake_servers import Answer, RecordingServer, always, recording_server, tls, trusted_tls  # noqa: F401
from .secrets_kit import ORG18, SETTINGS, USER18, Secrets, client, client_credentials_token, credentials

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def plain_http_sink() -> Iterator[RecordingServer]:
    with recording_server(always(Answer.json({"access_token": "stolen"}))) as server:
        yield server


@pytest.fixture
def other_port_sink(trusted_tls: CertBundle) -> Iterator[RecordingServer]:
    with recording_server(always(Answer.json({"access_token": "stolen"})), tls=trusted_tls) as server:
        yield server


def _oauth_calls(keys: Secrets) -> dict[str, Callable[[SalesforceOAuthClient], object]]:
    return {
        "client_credentials": lambda c: c.request_token(client_credentials_grant(c.credentials)),
        "jwt_bearer": lambda c: c.request_token(jwt_grant(c.credentials)),
        "refresh_token": lambda c: c.request_token(refresh_grant(c.credentials, keys.refresh_token)),
        "code exchange": lambda c: c.request_token(
            code_grant(c.credentials, keys.code, keys.verifier, "http://localhost:1717/OauthRedirect")
        ),
        "introspect": lambda c: c.introspect_active(keys.refresh_token),
        "revoke": lambda c: c.revoke(keys.refresh_token, c.credentials.login_url),
        "identity": lambda c: c.identity(keys.access_token, f"{c.credentials.login_url}/id/{ORG18}/{USER18}"),
        "userinfo/limits": lambda c: c.rest_limits(keys.access_token, c.credentials.login_url),
    }


@pytest.mark.parametrize("sink_name", ["plain_http_sink", "other_port_sink"])
def test_oauth_calls_never_follow_a_redirect(
    sink_name: str, request: pytest.FixtureRequest, trusted_tls: CertBundle
) -> None:
    sink: RecordingServer = request.getfixturevalue(sink_name)
    keys = Secrets.new()
    for name, call in _oauth_calls(keys).items():
        redirect = always(Answer.redirect(f"{sink.base_url}/services/oauth2/token", 307))
        with recording_server(redirect, tls=trusted_tls) as salesforce:
            oauth = client(credentials(salesforce.base_url, keys, AuthFlow.JWT_BEARER, trusted_tls.jwt_key_pem),
                           trusted_tls)
            with pytest.raises(SF360Error) as err:
                call(oauth)
            assert salesforce.request_count() == 1, name  # asked once, never re-sent anywhere
        assert isinstance(err.value, SalesforceRequestError), (name, err.value)
        assert "HTTP 307" in str(err.value), name
        assert not err.value.__class__.__name__.startswith("Transient")
        assert not keys.leaked_in(str(err.value).encode())
    assert sink.request_count() == 0, sink.all_bytes()[:300]
    assert keys.leaked_in(sink.all_bytes()) == []


def test_a_redirect_is_a_permanent_error_that_names_the_fix(trusted_tls: CertBundle) -> None:
    keys = Secrets.new()
    redirect = always(Answer.redirect("http://evil.test/token", 302))
    with recording_server(redirect, tls=trusted_tls) as salesforce, pytest.raises(SalesforceRequestError) as err:
        client_credentials_token(client(credentials(salesforce.base_url, keys), trusted_tls))
    message = str(err.value)
    assert "never follow redirects" in message and "'evil.test'" in message and "Login URL" in message
    assert err.value.permanent


class _Tokens:
    def __init__(self, token: str) -> None:
        self.token = token

    def current_access_token(self) -> str:
        return self.token

    def renewed_access_token(self, stale: str) -> str:
        return self.token


def _api_session(keys: Secrets, tls: CertBundle) -> RenewingSalesforceSession:
    session = RenewingSalesforceSession(_Tokens(keys.access_token), SETTINGS)
    session.verify = str(tls.ca_file)
    return session


def test_api_redirect_to_plain_http_is_refused(plain_http_sink: RecordingServer, trusted_tls: CertBundle) -> None:
    keys = Secrets.new()
    redirect = always(Answer.redirect(f"{plain_http_sink.base_url}/services/data/v64.0/jobs/ingest/750x", 307))
    with recording_server(redirect, tls=trusted_tls) as api, pytest.raises(UntrustedHostError) as err:
        _api_session(keys, trusted_tls).post(
            f"{api.base_url}/services/data/v64.0/jobs/ingest", json={"object": "Account"},
            headers={"X-SFDC-Session": "x"}, timeout=5,
        )
    assert "host Salesforce redirected to" in str(err.value) and "https://" in str(err.value)
    assert plain_http_sink.request_count() == 0


def test_api_redirect_to_another_host_drops_the_session_headers(
    other_port_sink: RecordingServer, trusted_tls: CertBundle
) -> None:
    """Another allowed host (127.0.0.1 on another port) gets the request, but never the token."""
    keys = Secrets.new()
    redirect = always(Answer.redirect(f"{other_port_sink.base_url}/services/async/64.0/job", 307))
    with recording_server(redirect, tls=trusted_tls) as api:
        response = _api_session(keys, trusted_tls).post(
            f"{api.base_url}/services/async/64.0/job", data=b"<jobInfo/>",
            headers={"X-SFDC-Session": "placeholder", "Content-Type": "application/xml"}, timeout=5,
        )
        assert keys.access_token.encode() in api.all_bytes()  # the first host is the one the token is for
    assert response.status_code == 200
    received = other_port_sink.all_bytes()
    assert other_port_sink.request_count() == 1
    assert b"authorization:" not in received.lower() and b"x-sfdc-session:" not in received.lower()
    assert keys.leaked_in(received) == []


def test_api_redirect_on_the_same_host_keeps_the_token(trusted_tls: CertBundle) -> None:
    keys = Secrets.new()

    def api_answer(_method: str, path: str) -> Answer:
        if path.startswith("/old"):
            return Answer.redirect("/services/data/v64.0/limits", 301)
        return Answer.json({"ok": True})

    with recording_server(api_answer, tls=trusted_tls) as api:
        response = _api_session(keys, trusted_tls).get(f"{api.base_url}/old", timeout=5)
        assert response.json() == {"ok": True}
        assert api.all_bytes().count(f"Bearer {keys.access_token}".encode()) == 2
