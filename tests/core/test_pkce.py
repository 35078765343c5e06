"""The web server flow's first half: the authorize URL carries an S256 challenge of a fresh, masked verifier."""

from __future__ import annotations

import base64
import hashlib
import string
from urllib.parse import parse_qs, urlsplit

from airflow_provider_sf360.core.credentials import credentials_from_connection_fields
from airflow_provider_sf360.core.hosts import ProviderSettings
from airflow_provider_sf360.core.oauth_client import PKCE_VERIFIER_LENGTH, SalesforceOAuthClient

UNRESERVED = set(string.ascii_letters + string.digits + "-._~")  # RFC 7636 section 4.1
CALLBACK = "http://localhost:1717/OauthRedirect"


def _client(masked: list[str]) -> SalesforceOAuthClient:
    credentials = credentials_from_connection_fields(
        "sf360_pkce", {"org_id": "00D5e000000AbCd", "user_id": "0055e000001XyZa", "auth_flow": "authorization_code",
                       "callback_url": CALLBACK, "username": "integration@acme.example"},
        "3MVGconsumerkey", None, ProviderSettings.from_options(),
    )
    return SalesforceOAuthClient(credentials, ProviderSettings.from_options(), mask=masked.append)


def test_authorize_url_has_an_s256_challenge_of_the_kept_verifier() -> None:
    masked: list[str] = []
    url, verifier = _client(masked).authorization_request(CALLBACK, "signed-state")
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://login.salesforce.com/services/oauth2/authorize"
    assert len(verifier) == PKCE_VERIFIER_LENGTH and set(verifier) <= UNRESERVED
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == challenge and query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code" and query["client_id"] == "3MVGconsumerkey"
    assert query["redirect_uri"] == CALLBACK and query["state"] == "signed-state"
    assert query["scope"] == "api refresh_token" and query["prompt"] == "login consent"
    assert query["login_hint"] == "integration@acme.example"
    assert verifier not in url and verifier in masked  # the verifier stays server-side and is masked


def test_each_request_gets_a_new_verifier() -> None:
    client = _client([])
    verifiers = {client.authorization_request(CALLBACK, "s")[1] for _ in range(5)}
    assert len(verifiers) == 5
