"""The four token requests the provider makes, as data: what is posted, and whether it consumes something.

A grant *consumes* something when Salesforce can accept it only once: an authorization code, or a refresh
token under rotation. Such a request is never re-sent while its first outcome is unknown (see
``core/oauth_client.py``). Facts: ``salesforce.md`` section 2. Pure module, no Airflow import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum

from airflow_provider_sf360.core.credentials import SF360Credentials

JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce wants ``exp`` a few minutes ahead (salesforce.md 2.3; simple-salesforce uses 3 minutes).
JWT_LIFETIME_SECONDS = 180
# The JWT audience is the generic login host, whichever host the assertion is posted to (salesforce.md 2.3:
# forrest#302 "audience is invalid" on a sandbox My Domain, simple-salesforce PR #711 for GovCloud, restforce
# PR #886); an Experience Cloud site signs for its own URL (the connection's JWT Audience field).
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"


class GrantOutcomeUnknown(Exception):  # noqa: N818  (an outcome, not a failure: the caller must find out)
    """A request that consumes something (a refresh token, a code) was sent and its answer never arrived.

    Salesforce may have processed it. Re-sending it blindly could present a consumed refresh token, which under
    rotation revokes the whole token family (``core/renewal.py`` finds out first).

    :param description: what happened on the wire (no secret).
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class Grant(str, Enum):
    """A token request, by its ``grant_type``."""

    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    JWT_BEARER = "jwt_bearer"
    CLIENT_CREDENTIALS = "client_credentials"

    @property
    def consumes(self) -> bool:
        """Whether Salesforce accepts the request only once (a code; a refresh token under rotation)."""
        return self in (Grant.AUTHORIZATION_CODE, Grant.REFRESH_TOKEN)


@dataclass(frozen=True)
class GrantRequest:
    """One token request: its grant and the form posted to the token endpoint (secrets kept out of ``repr``)."""

    grant: Grant
    token_url: str
    form: dict[str, str] = field(repr=False)

    @property
    def what(self) -> str:
        """The request as messages name it."""
        return {
            Grant.AUTHORIZATION_CODE: "the authorization code exchange",
            Grant.REFRESH_TOKEN: "the refresh token grant",
            Grant.JWT_BEARER: "the JWT bearer grant",
            Grant.CLIENT_CREDENTIALS: "the client credentials grant",
        }[self.grant]


def _client_fields(creds: SF360Credentials) -> dict[str, str]:
    """``client_id`` and, when the connection has one, ``client_secret`` (salesforce.md 2.1, 2.2)."""
    secret = creds.consumer_secret
    return {"client_id": creds.consumer_key, **({"client_secret": secret} if secret else {})}


def code_grant(creds: SF360Credentials, code: str, verifier: str, redirect_uri: str) -> GrantRequest:
    """Redeem an authorization code with its PKCE verifier (a confidential client also sends its secret).

    :param creds: the connection's credentials.
    :param code: the code Salesforce redirected with (single-use).
    :param verifier: the PKCE code verifier kept since the authorize request.
    :param redirect_uri: the same redirect URI as in the authorize request.
    """
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": redirect_uri, **_client_fields(creds)}
    return GrantRequest(Grant.AUTHORIZATION_CODE, creds.token_url, form)


def refresh_grant(creds: SF360Credentials, refresh_token: str) -> GrantRequest:
    """Redeem a refresh token at the host that issued it, with no ``scope`` (Salesforce rejects it: 2.2).

    The secret is sent when the connection has one; without it the request works when the app's "Require
    secret for Refresh Token Flow" is off.

    :param creds: the connection's credentials.
    :param refresh_token: the stored refresh token.
    """
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **_client_fields(creds)}
    return GrantRequest(Grant.REFRESH_TOKEN, creds.token_url, form)


def jwt_audience(creds: SF360Credentials) -> str:
    """The ``aud`` claim: the connection's JWT Audience, else the generic production or sandbox login host.

    :param creds: the connection's credentials.
    """
    if creds.jwt_audience:
        return creds.jwt_audience
    return SANDBOX_AUDIENCE if creds.is_sandbox else PRODUCTION_AUDIENCE


def jwt_claims(creds: SF360Credentials, now: float | None = None) -> dict[str, object]:
    """The JWT bearer assertion's claims (salesforce.md 2.3): issuer, subject, audience and expiry.

    :param creds: the connection's credentials.
    :param now: epoch seconds (default: the clock).
    """
    issued = int(time.time() if now is None else now)
    return {"iss": creds.consumer_key, "sub": creds.username or "", "aud": jwt_audience(creds),
            "exp": issued + JWT_LIFETIME_SECONDS}


def jwt_grant(creds: SF360Credentials, now: float | None = None) -> GrantRequest:
    """A JWT bearer grant: a fresh RS256 assertion signed with the connection's private key; no secret sent.

    :param creds: the connection's credentials.
    :param now: epoch seconds (default: the clock).
    """
    import jwt  # PyJWT: imported by the one request that signs

    assertion = jwt.encode(jwt_claims(creds, now), creds.private_key or "", algorithm="RS256")
    return GrantRequest(Grant.JWT_BEARER, creds.token_url,
                        {"grant_type": JWT_GRANT_TYPE, "assertion": assertion})


def client_credentials_grant(creds: SF360Credentials) -> GrantRequest:
    """A client credentials grant on the My Domain host; the token acts as the app's Run As user (2.4).

    :param creds: the connection's credentials.
    """
    form = {"grant_type": "client_credentials", "client_id": creds.consumer_key,
            "client_secret": creds.consumer_secret or ""}
    return GrantRequest(Grant.CLIENT_CREDENTIALS, creds.token_url, form)
