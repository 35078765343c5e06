"""``/services/oauth2/authorize``: login page, consent page, redirect with a code (salesforce.md section 2.1).

Error answers. Salesforce's OAuth error list (help remoteaccess_oauth_user_agent_flow, also copied into client
code) gives the codes and descriptions, sent in lower case: ``unsupported_response_type`` "response type not
supported", ``invalid_client_id`` "client identifier invalid", ``redirect_uri_missing`` "redirect_uri not
provided", ``redirect_uri_mismatch`` (the page text is "redirect_uri must match configuration"),
``access_denied`` "end-user denied authorization", ``invalid_grant`` "ip restricted or invalid login hours",
``invalid_scope``. Where they go:

- Unknown client, missing or unregistered ``redirect_uri``: an error page, no redirect (an unchecked redirect
  would be an open redirector).
- A scope the app does not allow: Salesforce's error page ``RemoteAccessErrorPage.apexp?error=invalid_scope&
  error_description=the+requested+scope+is+not+allowed`` (forcedotcom/mcp-hosted#1 and #47, jetstreamapp/jetstream
  #1462; forcedotcom/SalesforceMobileSDK-Android#2290: the requested scopes must be a subset of the app's).
- Everything else: a redirect to the callback with ``error``, ``error_description`` and ``state``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from airflow_provider_sf360.testing import pages
from airflow_provider_sf360.testing.client_auth import UNKNOWN_CLIENT
from airflow_provider_sf360.testing.config import AppConfig, UserConfig
from airflow_provider_sf360.testing.login_policy import login_refusal
from airflow_provider_sf360.testing.messages import Request, Response, html_response, redirect
from airflow_provider_sf360.testing.records import Host
from airflow_provider_sf360.testing.state import World

AUTHORIZE_PATH = "/services/oauth2/authorize"
LOGIN_FAILED = (
    "Please check your username and password. If you still can't log in, contact your Salesforce administrator."
)


def _redirect_with(uri: str, params: dict[str, str]) -> Response:
    sep = "&" if "?" in uri else "?"
    return redirect(uri + sep + urlencode({k: v for k, v in params.items() if v}))


def _error_page(error: str, description: str) -> Response:
    return html_response(400, pages.error_page(error, description))


def _requested_scope(app: AppConfig, requested: str) -> str | None:
    """The requested scopes if the app allows them all (the app's scopes when none are requested), else None."""
    wanted = requested.split()
    if not wanted:
        return " ".join(app.scopes)
    return " ".join(wanted) if set(wanted) <= set(app.scopes) else None


def _client_problem(app: AppConfig, params: dict[str, str]) -> Response | None:
    """Errors shown on a page: missing or unregistered callback, disallowed scope."""
    uri = params.get("redirect_uri", "")
    if not uri:
        return _error_page("redirect_uri_missing", "redirect_uri not provided")
    if uri not in app.callback_urls:
        return _error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
    if _requested_scope(app, params.get("scope", "")) is None:
        return _error_page("invalid_scope", "the requested scope is not allowed")
    return None


def _request_problem(app: AppConfig, params: dict[str, str]) -> dict[str, str] | None:
    """Errors redirected to the callback: response type and PKCE rules (salesforce.md section 2.1)."""
    if params.get("response_type") != "code":
        # Only the web server flow is emulated.
        return {"error": "unsupported_response_type", "error_description": "response type not supported"}
    challenge, method = params.get("code_challenge", ""), params.get("code_challenge_method", "")
    if challenge and method not in ("", "S256"):
        # section 2.1: S256 only, `plain` is not accepted (secondary). Description: emulator wording.
        return {"error": "invalid_request", "error_description": "invalid code challenge method"}
    if app.pkce_required and not challenge:
        # PKCE required on the app (section 2.1); description is the one Salesforce sends.
        return {"error": "invalid_request", "error_description": "missing required code challenge"}
    return None


def authorize(world: World, req: Request) -> Response:
    """``/services/oauth2/authorize`` (GET shows the login page; the pages POST back to it).

    :param world: the emulated Salesforce.
    :param req: the request.
    """
    params = req.query if req.method == "GET" else req.form()
    with world.lock:
        app = world.app(params.get("client_id", ""))
        if app is None:
            return _error_page(*UNKNOWN_CLIENT)
        problem = _client_problem(app, params)
        if problem is not None:
            return problem
        refusal = _request_problem(app, params)
        if refusal is not None:
            return _redirect_with(params["redirect_uri"], {**refusal, "state": params.get("state", "")})
        return _login_steps(world, req, app, params)


def _login_steps(world: World, req: Request, app: AppConfig, params: dict[str, str]) -> Response:
    action = req.base_url + AUTHORIZE_PATH
    step = params.get("sf360_step", "") if req.method == "POST" else ""
    if not step:
        if world.auto_approve:
            user = world.user_by_username(params.get("login_hint", "")) or world.default_user_for(req.host)
            if user is None or not user.active or not world.host_serves_org(req.host, user.org_id):
                return html_response(400, pages.login_page(action, params, LOGIN_FAILED))
            return _code_redirect(world, app, user, params, req.host)
        return html_response(200, pages.login_page(action, params))
    user = world.user_by_username(params.get("username", ""))
    if user is None or not user.active or not world.host_serves_org(req.host, user.org_id):
        # A user of another org kind (sandbox at login, production at test) is "not found" here.
        return html_response(200, pages.login_page(action, params, LOGIN_FAILED))
    if step == "login":
        scope = _requested_scope(app, params.get("scope", "")) or ""
        return html_response(200, pages.consent_page(action, params, user.username, app.name, scope))
    if params.get("action") == "allow":
        return _code_redirect(world, app, user, params, req.host)
    # section 2.1: refusal → ?error=access_denied
    return _redirect_with(params["redirect_uri"], {"error": "access_denied",
                                                   "error_description": "end-user denied authorization",
                                                   "state": params.get("state", "")})


def _code_redirect(world: World, app: AppConfig, user: UserConfig, params: dict[str, str], host: Host) -> Response:
    uri, state = params["redirect_uri"], params.get("state", "")
    refusal = login_refusal(world, app, user, "authorize")
    if refusal is not None:
        # A user outside the profile's Login IP Ranges or Login Hours (login_policy.py).
        return _redirect_with(uri, {"error": refusal.error, "error_description": refusal.description,
                                    "state": state})
    scope = _requested_scope(app, params.get("scope", "")) or ""
    code = world.new_code(app.consumer_key, user.user_id, uri, params.get("code_challenge", ""), scope, host)
    return _redirect_with(uri, {"code": code, "state": state})
