"""Salesforce's OAuth protocol, one method per request: token grants, introspect, identity, revoke.

Pure module (no Airflow import). Every answer is classified into the provider's errors; transient
failures (network, 5xx, 429, garbled bodies) are retried with bounded backoff by :class:`RetryPolicy`.
``requests_oauthlib`` is used for the web server and refresh flows and imported only when needed.
Facts: ``../shared/docs/salesforce.md`` sections 2-5 and 10.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests

from airflow_provider_sf360.core.credentials import AuthFlow, SF360Credentials
from airflow_provider_sf360.core.errors import (
    ClientRejectedError,
    IdentityMismatchError,
    SalesforceRequestError,
    SalesforceUnreachableError,
    SF360Error,
    TokenRevokedError,
)
from airflow_provider_sf360.core.hosts import ProviderSettings, require_trusted_url
from airflow_provider_sf360.core.retry import RetryPolicy, TransientFailureError
from airflow_provider_sf360.core.token_state import TokenResponse

if TYPE_CHECKING:
    from requests_oauthlib import OAuth2Session

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce wants exp a few minutes ahead (simple-salesforce uses 3 min)
WEB_FLOW_SCOPES = ("api", "refresh_token")
PKCE_METHOD = "S256"
PKCE_VERIFIER_LENGTH = 64  # RFC 7636 allows 43 to 128 characters
_CHATTY_LOGGERS = ("requests_oauthlib", "oauthlib", "urllib3")

MaskFn = Callable[[str], None]
SessionT = TypeVar("SessionT", bound=requests.Session)

MAX_ANSWER_BYTES = 256 * 1024  # Salesforce's OAuth answers are a few KB; more is refused before parsing
MAX_TOKEN_FIELD_CHARS = 16 * 1024  # JWT-based access tokens are ~2 KB
REQUIRED_TOKEN_FIELDS = ("access_token", "instance_url", "id")
OPTIONAL_TOKEN_FIELDS = ("refresh_token", "signature", "scope", "token_type", "id_token")
EARLIEST_ISSUED_AT = 946_684_800.0  # 2000-01-01: anything older is not a Salesforce issue time
MAX_CLOCK_AHEAD_SECONDS = 30 * 86_400  # how far Salesforce's clock may run ahead of ours


@contextmanager
def _quiet_oauth_debug_logs() -> Iterator[None]:
    """requests-oauthlib logs token bodies at DEBUG; keep them out of task logs whatever the log level."""
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.INFO))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class GrantOutcomeUnknown(Exception):  # noqa: N818  (an outcome, not a failure: the caller must find out)
    """A request that consumes something (a refresh token, a code) was sent and its answer never arrived.

    Salesforce may have processed it. Re-sending it blindly could present a consumed refresh token, which under
    rotation revokes the whole token family; see ``core/renewal.py`` for how the outcome is found out.
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _never_sent(error: requests.ConnectionError) -> bool:
    """True when the connection failed before the request could reach Salesforce (refused, DNS, connect timeout)."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def signature_is_valid(token: dict[str, Any], client_secret: str) -> bool:
    """Check Salesforce's ``signature``: Base64 HMAC-SHA256 of ``id + issued_at`` keyed with the secret."""
    mac = hmac.new(client_secret.encode(), (token["id"] + str(token["issued_at"])).encode(), hashlib.sha256)
    return hmac.compare_digest(base64.b64encode(mac.digest()), str(token.get("signature") or "").encode())


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _no_redirect_target(_response: requests.Response) -> None:
    return None


def refuse_redirects(session: SessionT) -> SessionT:
    """Make ``session`` hand back a 3xx answer as it is instead of following it.

    requests follows a redirect only when ``get_redirect_target`` names one; OAuth calls carry the Consumer
    Secret, codes and tokens in their body, so they never follow one (a 3xx becomes the provider's error in
    :meth:`SalesforceOAuthClient._json`). ``max_redirects = 0`` is a second lock: nothing is sent past it.

    :param session: a ``requests.Session`` or ``OAuth2Session``; changed in place and returned.
    """
    session.get_redirect_target = _no_redirect_target  # type: ignore[method-assign,assignment]
    session.max_redirects = 0
    return session


def _redirect_refused(response: requests.Response, what: str) -> SalesforceRequestError:
    location = response.headers.get("Location", "")
    try:
        target = repr(_short(urlsplit(location).hostname or "a relative URL", 80)) if location else "elsewhere"
    except ValueError:
        target = "elsewhere"
    return SalesforceRequestError(
        f"Salesforce answered {what} with HTTP {response.status_code}, a redirect to {target}; OAuth calls never "
        "follow redirects, so nothing was sent there. Check the connection's Login URL (My Domain): use the "
        "org's current https://<MyDomain>.my.salesforce.com URL."
    )


def _issued_at_seconds(value: Any, now: float) -> float | None:
    """``issued_at`` (milliseconds, a string of digits or a number) as epoch seconds, or None if implausible."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if not isinstance(value, int):
        return None
    seconds = value / 1000.0
    return seconds if EARLIEST_ISSUED_AT <= seconds <= now + MAX_CLOCK_AHEAD_SECONDS else None


def token_answer_problem(data: Any, signature_required: bool, now: float | None = None) -> str | None:
    """Say what is wrong with a successful token answer's fields, or return None when they are usable.

    :param data: the decoded JSON answer (or requests-oauthlib's token dict made from it).
    :param signature_required: True when the connection has a Consumer Secret (Salesforce then signs).
    :param now: the current time, for the ``issued_at`` plausibility check.
    """
    if not isinstance(data, dict):
        return f"it is a JSON {type(data).__name__}, not an object"
    for name in REQUIRED_TOKEN_FIELDS:
        if not isinstance(data.get(name), str) or not data[name].strip():
            return f"{name!r} is missing, empty or not a string"
    for name in OPTIONAL_TOKEN_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str) and not (name == "scope" and isinstance(value, list)):
            return f"{name!r} is not a string"
    for name in (*REQUIRED_TOKEN_FIELDS, *OPTIONAL_TOKEN_FIELDS):
        if len(str(data.get(name) or "")) > MAX_TOKEN_FIELD_CHARS:
            return f"{name!r} is longer than {MAX_TOKEN_FIELD_CHARS} characters"
    if _issued_at_seconds(data.get("issued_at"), time.time() if now is None else now) is None:
        return "'issued_at' is missing or not a plausible time in milliseconds"
    expires_in = data.get("expires_in")
    if expires_in is not None and not (
        (isinstance(expires_in, int) and not isinstance(expires_in, bool) and 0 <= expires_in < 10**9)
        or (isinstance(expires_in, str) and expires_in.isascii() and expires_in.isdigit() and len(expires_in) < 10)
    ):
        return "'expires_in' is not a whole number of seconds"
    if signature_required and not data.get("signature"):
        return "it carries no 'signature' although the connection has a Consumer Secret (Salesforce signs it)"
    return None


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def classify_oauth_error(error: str, description: str, flow: AuthFlow) -> Exception:
    """Map a token-endpoint ``error``/``error_description`` pair to the provider error a user can act on."""
    said = f"Salesforce answered {error}: {description or 'no description'}"
    if error == "invalid_grant":
        lowered = description.lower()
        if "approved" in lowered:
            return ClientRejectedError(
                f"{said}. Pre-authorize the user for the Connected App (Manage > Edit Policies > "
                "'Admin approved users are pre-authorized', then add the user's profile or permission set)."
            )
        if "audience" in lowered:
            return ClientRejectedError(
                f"{said}. The JWT audience must match the login host: check the sandbox box and Login URL."
            )
        if "authentication failure" in lowered:
            return TokenRevokedError(
                f"{said}. The Salesforce user was deactivated, locked or changed their password; "
                "check the user, then set up the OAuth token again."
            )
        if flow in (AuthFlow.CLIENT_CREDENTIALS,):
            return ClientRejectedError(f"{said}. Check the Connected App's client credentials run-as user.")
        return TokenRevokedError(
            f"{said}. Salesforce no longer accepts this token: an admin revoked it, the refresh token policy "
            "ended it, a sixth approval evicted it, or the sandbox was refreshed; set up the OAuth token again."
        )
    if error in ("invalid_client", "invalid_client_id", "invalid_client_credentials", "unauthorized_client"):
        return ClientRejectedError(
            f"{said}. Check the Consumer Key and Consumer Secret against the Connected App "
            "(and, for jwt_bearer, the uploaded certificate)."
        )
    if error in ("inactive_user", "inactive_org"):
        return TokenRevokedError(f"{said}. Reactivate the user or org in Salesforce, then set up again.")
    if error == "rate_limit_exceeded":
        return SalesforceUnreachableError(f"{said}. Too many logins for this user; wait and retry.")
    return SalesforceRequestError(f"{said}.")


class SalesforceOAuthClient:
    """The HTTP side of one connection's OAuth: it never stores anything."""

    def __init__(
        self,
        credentials: SF360Credentials,
        settings: ProviderSettings,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        refresh_timeout: float = 120.0,
        mask: MaskFn = lambda _secret: None,
    ) -> None:
        self.credentials = credentials
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        # A request that consumes a refresh token or a code is waited for longer: giving up on it does not stop
        # Salesforce from processing it, and its answer carries the only copy of the rotated refresh token.
        self.consuming_timeout = (timeout, max(timeout, refresh_timeout))
        self.mask = mask
        self.http = refuse_redirects(requests.Session())

    # ---------------------------------------------------------------- requests and their answers
    def _trusted(self, url: str, what: str) -> str:
        return require_trusted_url(url, self.settings, what)

    def _send(self, what: str, send: Callable[[], requests.Response]) -> requests.Response:
        """One attempt: network failures, 5xx and 429 become :class:`TransientFailureError`."""
        try:
            response = send()
        except requests.exceptions.SSLError as exc:
            raise SalesforceUnreachableError(
                f"TLS verification failed for {what}: {_short(str(exc))}. Check the host name and CA bundle "
                "(REQUESTS_CA_BUNDLE)."
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientFailureError(f"{type(exc).__name__} during {what}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientFailureError(f"HTTP {response.status_code} from {what}", _retry_after(response))
        return response

    def _json(self, response: requests.Response, what: str) -> Any:
        if 300 <= response.status_code < 400:
            raise _redirect_refused(response, what)
        if len(response.content) > MAX_ANSWER_BYTES:
            raise SalesforceRequestError(
                f"HTTP {response.status_code} from {what} with a {len(response.content)}-byte body, more than the "
                f"{MAX_ANSWER_BYTES} bytes an OAuth answer can be; it was not read. Nothing was stored."
            )
        try:
            return response.json()
        except (ValueError, RecursionError):
            raise TransientFailureError(
                f"HTTP {response.status_code} from {what} with a body that is not JSON: "
                f"{_short(response.text, 80)!r}"
            ) from None

    def _token_answer(self, response: requests.Response, what: str) -> dict[str, Any]:
        data = self._json(response, what)
        if response.status_code == 200 and not isinstance(data, dict):
            self._check_token_answer(data, what)  # a JSON list, string, number or null: malformed, not transient
        if response.status_code != 200 or not isinstance(data, dict) or "access_token" not in data:
            if isinstance(data, dict) and "error" in data:
                raise classify_oauth_error(
                    _short(str(data["error"]), 80),
                    _short(str(data.get("error_description") or ""), 300),
                    self.credentials.auth_flow,
                )
            raise TransientFailureError(f"HTTP {response.status_code} from {what} without a token")
        self._check_token_answer(data, what)
        return data

    def _check_token_answer(self, data: Any, what: str) -> None:
        """Mask the tokens, then raise :class:`SalesforceRequestError` unless every field is usable."""
        for name in ("access_token", "refresh_token"):
            if isinstance(data, dict) and isinstance(data.get(name), str) and data[name]:
                self.mask(data[name])
        problem = token_answer_problem(data, signature_required=bool(self.credentials.consumer_secret))
        if problem:
            raise SalesforceRequestError(
                f"The answer of {what} is malformed: {problem}. Nothing was stored. If it repeats, check that "
                "the Login URL points at Salesforce and that the Consumer Secret is the app's."
            )

    def _token_response(self, data: dict[str, Any]) -> TokenResponse:
        self._check_token_answer(data, "the token endpoint")
        secret = self.credentials.consumer_secret
        if secret and not signature_is_valid(data, secret):
            raise SalesforceRequestError(
                "The token response's signature does not match the Consumer Secret: the answer was altered "
                "or the secret is wrong. Nothing was stored."
            )
        scope = data.get("scope") or ""
        return TokenResponse(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or None,
            instance_url=self._trusted(data["instance_url"], "instance URL Salesforce returned"),
            identity_url=self._trusted(data["id"], "identity URL Salesforce returned"),
            issued_at=_issued_at_seconds(data["issued_at"], time.time()) or time.time(),
            scope=" ".join(scope) if isinstance(scope, list) else scope,
            signature=data.get("signature") or None,
        )

    def _post_token(self, url: str, form: dict[str, str], what: str) -> TokenResponse:
        url = self._trusted(url, "token endpoint")

        def attempt() -> dict[str, Any]:
            response = self._send(
                what,
                lambda: self.http.post(
                    url, data=form, headers={"Accept": "application/json"}, timeout=self.timeout
                ),
            )
            return self._token_answer(response, what)

        return self._token_response(self.retry.run(what, attempt))

    # ---------------------------------------------------------------- grants
    def _oauth_session(self, **kwargs: Any) -> OAuth2Session:
        from requests_oauthlib import OAuth2Session

        session = refuse_redirects(OAuth2Session(self.credentials.consumer_key, **kwargs))
        session.verify = self.http.verify
        for hook in ("access_token_response", "refresh_token_response"):
            session.register_compliance_hook(hook, self._reject_non_token_answers)
        return session

    def _consuming_session(self, **kwargs: Any) -> OAuth2Session:
        """An OAuth session for grants that consume something: a 200 it cannot read is an unknown outcome."""
        session = self._oauth_session(**kwargs)
        for hook in ("access_token_response", "refresh_token_response"):
            session.compliance_hook[hook] = {self._consumed_answer}
        return session

    def _reject_non_token_answers(self, response: requests.Response) -> requests.Response:
        """Compliance hook: classify errors before oauthlib parses (it knows no 5xx, 429 or Salesforce errors)."""
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientFailureError(f"HTTP {response.status_code} from the token endpoint", _retry_after(response))
        self._token_answer(response, "the token endpoint")
        return response

    def _consumed_answer(self, response: requests.Response) -> requests.Response:
        """Compliance hook of consuming grants: a 200 that is not a readable token leaves the outcome unknown."""
        if response.status_code == 200:
            try:
                self._token_answer(response, "the token endpoint")
            except (SF360Error, TransientFailureError) as exc:
                raise GrantOutcomeUnknown(f"HTTP 200 with an answer that could not be read ({exc})") from None
            return response
        return self._reject_non_token_answers(response)

    def _oauth_attempt(
        self, what: str, call: Callable[[], dict[str, Any]], *, consuming: bool = False
    ) -> dict[str, Any]:
        """Run ``call`` with bounded retries of transient failures.

        ``consuming``: the request consumes a refresh token or a code, so it is retried only when it provably never
        reached Salesforce (no connection, 5xx, 429); an answer that is lost raises :class:`GrantOutcomeUnknown`.
        """

        def attempt() -> dict[str, Any]:
            with _quiet_oauth_debug_logs():
                try:
                    return call()
                except requests.exceptions.SSLError as exc:
                    raise SalesforceUnreachableError(
                        f"TLS verification failed for {what}: {_short(str(exc))}."
                    ) from None
                except (requests.ConnectionError, requests.Timeout) as exc:
                    if not consuming or (isinstance(exc, requests.ConnectionError) and _never_sent(exc)):
                        raise TransientFailureError(f"{type(exc).__name__} during {what}") from None
                    if isinstance(exc, requests.Timeout):
                        raise GrantOutcomeUnknown(f"no answer within {self.consuming_timeout[1]:g} s") from None
                    raise GrantOutcomeUnknown("the connection broke after the request was sent") from None
                except (SF360Error, TransientFailureError, GrantOutcomeUnknown):
                    raise
                except (ValueError, Warning) as exc:
                    if not consuming:
                        raise
                    # oauthlib could not read an answer that said 200
                    raise GrantOutcomeUnknown(f"an answer that could not be read ({type(exc).__name__})") from None

        return self.retry.run(what, attempt)

    def authorization_request(self, redirect_uri: str, state: str) -> tuple[str, str]:
        """First half of the web server flow: the authorize URL (PKCE S256) and the code verifier to keep.

        :param redirect_uri: the Callback URL Salesforce redirects the browser to (must be one of the app's).
        :param state: the signed, single-use state echoed back by Salesforce.
        :return: the authorize URL and the PKCE code verifier (a secret: keep it server-side).
        """
        from oauthlib.oauth2 import WebApplicationClient

        client = WebApplicationClient(self.credentials.consumer_key)
        verifier = client.create_code_verifier(PKCE_VERIFIER_LENGTH)
        self.mask(verifier)
        extra: dict[str, str] = {"prompt": "login consent"}
        if self.credentials.username:
            extra["login_hint"] = self.credentials.username
        url = client.prepare_request_uri(
            self._trusted(self.credentials.authorize_url, "authorize endpoint"),
            redirect_uri=redirect_uri,
            scope=list(WEB_FLOW_SCOPES),
            state=state,
            code_challenge=client.create_code_challenge(verifier, PKCE_METHOD),
            code_challenge_method=PKCE_METHOD,
            **extra,
        )
        return url, verifier

    def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenResponse:
        """Second half: redeem the authorization code with the verifier kept from the first half."""
        token_url = self._trusted(self.credentials.token_url, "token endpoint")
        # A new session without ``pkce`` (its verifier would not survive across processes: requests-oauthlib #550).
        session = self._consuming_session(redirect_uri=redirect_uri)
        secret = self.credentials.consumer_secret
        try:
            data = self._oauth_attempt(
                "the authorization code exchange",
                lambda: dict(
                    session.fetch_token(
                        token_url,
                        code=code,
                        code_verifier=verifier,
                        include_client_id=True,
                        timeout=self.consuming_timeout,
                        **({"client_secret": secret} if secret else {}),
                    )
                ),
                consuming=True,
            )
        except GrantOutcomeUnknown as lost:  # a code is single-use: sending it again cannot help
            raise SalesforceUnreachableError(
                f"Salesforce's answer to the authorization code exchange was lost ({lost.description}); the code "
                "cannot be used twice. Nothing was stored: start the setup again."
            ) from None
        return self._token_response(data)

    def redeem_refresh_token(self, refresh_token: str) -> TokenResponse:
        """Refresh token flow, at the host that issued the token, with no ``scope`` (Salesforce rejects it)."""
        token_url = self._trusted(self.credentials.token_url, "token endpoint")
        secret = self.credentials.consumer_secret
        body = {"client_id": self.credentials.consumer_key, **({"client_secret": secret} if secret else {})}

        def send_once() -> dict[str, Any]:
            # A new session per attempt: a fresh connection, never a pooled one the server may have closed.
            session = self._consuming_session(token={"access_token": "", "token_type": "Bearer"})
            with session:
                return dict(session.refresh_token(
                    token_url, refresh_token=refresh_token, timeout=self.consuming_timeout, **body
                ))

        data = self._oauth_attempt("the refresh token grant", send_once, consuming=True)
        if data.get("refresh_token") == refresh_token:
            data.pop("refresh_token")  # requests-oauthlib re-inserts the old one when Salesforce sent none
        return self._token_response(data)

    def jwt_bearer(self) -> TokenResponse:
        """JWT bearer flow: a fresh RS256 assertion for the username; no refresh token comes back."""
        import jwt

        creds = self.credentials
        audience = (
            creds.login_url
            if not creds.login_url.endswith(("login.salesforce.com", "test.salesforce.com"))
            else ("https://test.salesforce.com" if creds.is_sandbox else "https://login.salesforce.com")
        )
        claims = {
            "iss": creds.consumer_key,
            "sub": creds.username,
            "aud": audience,
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        assertion = jwt.encode(claims, creds.private_key or "", algorithm="RS256")
        return self._post_token(
            creds.token_url, {"grant_type": JWT_GRANT, "assertion": assertion}, "the JWT bearer grant"
        )

    def client_credentials(self) -> TokenResponse:
        """Client credentials flow on the My Domain host; the token acts as the app's run-as user."""
        creds = self.credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.consumer_key,
            "client_secret": creds.consumer_secret or "",
        }
        return self._post_token(creds.token_url, form, "the client credentials grant")

    # ---------------------------------------------------------------- identity, introspection, revocation
    def check_identity(self, token: TokenResponse) -> tuple[str, str]:
        """Raise :class:`IdentityMismatchError` unless the token belongs to the connection's org and user."""
        creds = self.credentials
        found = token.org_and_user
        if found is None:
            raise SalesforceRequestError(
                f"Salesforce returned an identity URL without org and user IDs: {token.identity_url!r}."
            )
        org_id, user_id = found
        if (org_id, user_id) == (creds.org_id, creds.user_id):
            return found
        if org_id != creds.org_id:
            cause = (
                "Likely causes: the 'Use salesforce.com Sandbox' box or Login URL points at another org, the "
                "sandbox was refreshed (it then has a new Org ID), or the wrong Org ID was entered."
            )
        else:
            cause = "Likely cause: another Salesforce user signed in; sign in as the user the connection names."
        raise IdentityMismatchError(
            f"The token belongs to org {org_id} / user {user_id}, but connection {creds.conn_id!r} expects "
            f"org {creds.org_id} / user {creds.user_id}. {cause} Nothing was stored."
        )

    def _introspect(self, token: str, hint: str) -> dict[str, Any] | None:
        """Introspection answer, or None when it cannot be had (no consumer secret, or no answer)."""
        secret = self.credentials.consumer_secret
        if not secret:
            return None
        url = self._trusted(f"{self.credentials.login_url}/services/oauth2/introspect", "introspection endpoint")
        form = {"token": token, "token_type_hint": hint, "client_id": self.credentials.consumer_key,
                "client_secret": secret}

        def attempt() -> dict[str, Any] | None:
            response = self._send("token introspection", lambda: self.http.post(url, data=form, timeout=self.timeout))
            data = self._json(response, "token introspection")
            return data if response.status_code == 200 and isinstance(data, dict) else None

        try:
            return self.retry.run("token introspection", attempt)
        except SalesforceUnreachableError:
            return None  # introspection only refines what we know

    def introspect_expiry(self, access_token: str) -> float | None:
        """The access token's real expiry (epoch seconds); Salesforce's token answer has no ``expires_in``."""
        data = self._introspect(access_token, "access_token")
        exp = data.get("exp") if data and data.get("active") else None
        return float(exp) if isinstance(exp, (int, float)) else None

    def introspect_active(self, token: str, hint: str = "refresh_token") -> bool | None:
        """Whether Salesforce still accepts a token, without using it; None when it cannot tell."""
        data = self._introspect(token, hint)
        return None if data is None else bool(data.get("active"))

    def identity(self, access_token: str, identity_url: str) -> dict[str, Any]:
        """GET the identity URL with the token: username, org and user IDs, ``active``."""
        return self._authorized_get(self._trusted(identity_url, "identity URL"), access_token, "the identity URL")

    def rest_limits(self, access_token: str, instance_url: str) -> dict[str, Any]:
        """One REST call (``/limits``) proving the token works for the API version of the connection."""
        url = f"{self._trusted(instance_url, 'instance URL')}/services/data/v{self.credentials.api_version}/limits"
        return self._authorized_get(url, access_token, "the REST API")

    def _authorized_get(self, url: str, access_token: str, what: str) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            response = self._send(
                what,
                lambda: self.http.get(
                    url,
                    headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                    timeout=self.timeout,
                ),
            )
            if response.status_code in (401, 403):  # JSON array (REST) or plain text (Bad_OAuth_Token on /id)
                raise TokenRevokedError(
                    f"Salesforce refused the access token at {what} (HTTP {response.status_code}: "
                    f"{_short(response.text, 120)})."
                )
            data = self._json(response, what)
            if response.status_code != 200 or not isinstance(data, dict):
                raise SalesforceRequestError(
                    f"HTTP {response.status_code} from {what}: {_short(json.dumps(data))}."
                )
            return data

        return self.retry.run(what, attempt)

    def revoke(self, token: str, base_url: str) -> bool:
        """Revoke a token (a refresh token also kills its access tokens). False if it was already dead."""
        url = self._trusted(f"{base_url}/services/oauth2/revoke", "revoke endpoint")

        def attempt() -> bool:
            response = self._send("token revocation", lambda: self.http.post(url, data={"token": token},
                                                                              timeout=self.timeout))
            if response.status_code == 200:
                return True
            if response.status_code == 400:
                return False  # invalid_token / unsupported_token_type: nothing left to revoke
            raise SalesforceRequestError(f"HTTP {response.status_code} from token revocation.")

        return self.retry.run("token revocation", attempt)

    def close(self) -> None:
        self.http.close()
