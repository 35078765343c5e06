"""Client authentication and scopes shared by the OAuth endpoints (salesforce.md sections 2 and 5).

Error pairs:
- unknown consumer key: ``invalid_client_id`` / ``client identifier invalid`` (salesforce.md section 5 names the
  code; the description is Salesforce's OAuth error list, help remoteaccess_oauth_user_agent_flow: "Client
  identifier invalid", sent in lower case).
- wrong secret, or no secret where the app requires one: ``invalid_client`` / ``invalid client credentials``
  (section 5). For a missing secret this is what Salesforce sends in the web server flow when "Require Secret for
  Web Server Flow" is on (forcedotcom/SalesforceMobileSDK-Android#2468 "invalid_client:invalid client
  credentials" on the code exchange; SalesforceMobileSDK-iOS#3626 and #3633, where Salesforce's maintainers
  point at that checkbox). No source shows the refresh-token-flow case; the same pair is assumed
  (docs/emulator.md). Salesforce sends no "client secret required" description anywhere we could find.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from airflow_provider_sf360.testing.config import AppConfig
from airflow_provider_sf360.testing.messages import Request
from airflow_provider_sf360.testing.records import OAuthError
from airflow_provider_sf360.testing.state import World

UNKNOWN_CLIENT = ("invalid_client_id", "client identifier invalid")
BAD_CLIENT_CREDENTIALS = ("invalid_client", "invalid client credentials")
#: Scopes that make Salesforce issue a refresh token (salesforce.md section 2.1).
REFRESH_SCOPES = frozenset({"refresh_token", "offline_access"})


def s256(verifier: str) -> str:
    """salesforce.md section 2.1: challenge = BASE64URL(SHA256(verifier)) without padding.

    :param verifier: the PKCE code verifier.
    """
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def client_of(req: Request, form: dict[str, str]) -> tuple[str, str | None]:
    """Client id and secret from HTTP Basic or body fields (salesforce.md section 2).

    :param req: the request (its ``Authorization: Basic`` header wins).
    :param form: the request's form fields.
    """
    basic = req.basic_auth()
    if basic:
        return basic
    return form.get("client_id", ""), form.get("client_secret")


def authenticate_client(world: World, client_id: str, secret: str | None, require_secret: bool) -> AppConfig:
    """The app of ``client_id`` if the secret rules hold, else raise :class:`OAuthError`.

    A wrong secret always fails; a missing one fails only when ``require_secret``.

    :param world: the emulated Salesforce.
    :param client_id: the consumer key.
    :param secret: the consumer secret sent, ``None``/``""`` if none.
    :param require_secret: whether this flow needs the secret for this app.
    """
    app = world.app(client_id)
    if app is None:
        raise OAuthError(*UNKNOWN_CLIENT)
    if not secret:
        if require_secret:
            raise OAuthError(*BAD_CLIENT_CREDENTIALS)
    elif not secrets.compare_digest(secret, app.consumer_secret):
        raise OAuthError(*BAD_CLIENT_CREDENTIALS)
    return app


def has_refresh_scope(scope: str) -> bool:
    """salesforce.md section 2.1: include ``refresh_token`` or ``offline_access`` to get a refresh token.

    :param scope: a space-separated scope string.
    """
    return bool(REFRESH_SCOPES & set(scope.split()))


def scopes_without_refresh(app: AppConfig) -> str:
    """The app's scopes minus the refresh ones: what the JWT bearer and client credentials grants carry.

    :param app: the connected app.
    """
    return " ".join(s for s in app.scopes if s not in REFRESH_SCOPES)
