"""Fixtures for the emulator tests (the emulator fixtures come from the sf360_emulator pytest plugin)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from requests_oauthlib import OAuth2Session

from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    SalesforceEmulator,
)

from .sf360_emu_helpers import CALLBACK, query_of


@pytest.fixture
def emu(salesforce_emulator: SalesforceEmulator) -> SalesforceEmulator:
    return salesforce_emulator


@pytest.fixture
def web_login(emu: SalesforceEmulator) -> Callable[..., dict]:
    """Run the web server flow with requests-oauthlib (PKCE S256); return the token dict."""

    def run(host: str | None = None, username: str | None = None, scope: str = "api refresh_token id") -> dict:
        base = host or emu.login_url
        oauth = OAuth2Session(DEFAULT_CONSUMER_KEY, redirect_uri=CALLBACK, scope=scope, pkce="S256")
        url, state = oauth.authorization_url(base + "/services/oauth2/authorize")
        redirect = emu.authorize_headless(url, username=username)
        assert query_of(redirect)["state"] == state
        return dict(
            oauth.fetch_token(
                base + "/services/oauth2/token", authorization_response=redirect,
                client_secret=DEFAULT_CONSUMER_SECRET,
            )
        )

    return run


@pytest.fixture
def token_url(emu: SalesforceEmulator) -> str:
    return emu.login_url + "/services/oauth2/token"


@pytest.fixture
def instance(emu: SalesforceEmulator) -> str:
    return emu.my_domain_url(DEFAULT_ORG_ID)
