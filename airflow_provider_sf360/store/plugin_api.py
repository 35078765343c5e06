"""How task code reaches the provider's routes on the api-server (``/sf360/api/...``).

The provider's plugin app is mounted under ``/sf360`` on every api-server that runs the core API (``airflow
api-server`` with ``--apps all`` or ``core``): its API lives at ``<base>/sf360/api``. A task finds ``<base>`` the
way its own supervisor found the Execution API (``airflow/executors/base_executor.py::get_execution_api_server_url``
and the Edge worker's ``_execution_api_server_url``), in this order:

1. ``[sf360] api_server_url``: set it when the Execution API is served elsewhere (an execution-only api-server of
   a split layout) or reached under another name.
2. ``[core] execution_api_server_url`` without its ``/execution`` suffix (Local, Celery, Kubernetes workers).
3. ``[edge] api_url`` with ``edge_worker/v1/rpcapi`` replaced by ``execution``, as an Edge worker derives it (its
   forked task processes inherit the worker's configuration, not the derived URL).
4. ``[api] base_url`` when it is an absolute URL.

Airflow itself falls back to ``http://localhost:8080``; the provider does not guess: with nothing of the above
set, it raises :class:`ApiServerWiringError` naming ``[sf360] api_server_url``. Callers authenticate by proof of
possession (``core/proof.py``): a request and its answer carry no secret.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from airflow.sdk import conf

from airflow_provider_sf360.core.errors import ApiServerWiringError, SalesforceUnreachableError
from airflow_provider_sf360.settings import lock_wait_timeout, refresh_timeout, request_timeout, retry_policy

PLUGIN_API_PATH = "/sf360/api"
# The api-server's renewal makes at most this many Salesforce calls in a row: introspection of an unfinished grant,
# the grant, introspection after a lost answer, the grant again, then introspection of the new token's expiry (or
# two revocations of a token of another identity, one call more).
SALESFORCE_CALLS_PER_RENEWAL = 6
ANSWER_MARGIN_SECONDS = 30.0  # the api-server's own work around the waits (DB reads and writes, HTTP)


def renewal_answer_timeout() -> float:
    """Seconds a task waits for the api-server's answer to a renewal: longer than the server may take.

    The api-server starts a renewal within ``lock_wait_timeout`` of the request's arrival or not at all, then
    waits at most ``lock_wait_timeout`` each for the host lock and the database row lock; the renewal then makes at
    most :data:`SALESFORCE_CALLS_PER_RENEWAL` calls of ``max_attempts`` tries, each try waiting at most
    ``request_timeout`` to connect and ``max(request_timeout, refresh_timeout)`` for the answer, with up to
    ``retry_max_delay`` between tries (``plugins/renewal_api.py``)::

        3 * lock_wait_timeout
          + calls * (attempts * (request_timeout + max(request_timeout, refresh_timeout)) + (attempts - 1) * max_delay)
          + margin

    So a task never gives up (and says nothing was redeemed) while the api-server may still send its grant. This
    holds when workers and the api-server have the same ``[sf360]`` options (the task computes it from its own).
    """
    retry = retry_policy()
    one_try = request_timeout() + max(request_timeout(), refresh_timeout())
    one_call = retry.attempts * one_try + (retry.attempts - 1) * retry.max_delay
    return 3 * lock_wait_timeout() + SALESFORCE_CALLS_PER_RENEWAL * one_call + ANSWER_MARGIN_SECONDS


EDGE_API_PATH = "edge_worker/v1/rpcapi"
API_SERVER_UNKNOWN = (
    "This task does not know where the Airflow api-server is: [core] execution_api_server_url, [edge] api_url and "
    "an absolute [api] base_url are all unset. Set [sf360] api_server_url (AIRFLOW__SF360__API_SERVER_URL) on "
    "the workers to the base URL of the api-server that runs the core API (UI) with airflow-provider-sf360 "
    "installed, e.g. http://airflow-api:8080. Nothing was redeemed."
)


def plugin_api_base() -> str:
    """``<api-server base>/sf360/api`` as a task on this worker reaches it (order: see the module docstring)."""
    return api_server_base() + PLUGIN_API_PATH


def api_server_base() -> str:
    """The api-server's base URL, derived like the task's own Execution API client; raises when unknown."""

    def option(section: str, key: str) -> str:
        return str(conf.get(section, key, fallback="") or "").strip()

    if override := option("sf360", "api_server_url"):
        return override.rstrip("/")
    if execution := option("core", "execution_api_server_url"):
        return _without_execution_path(execution)
    if edge := option("edge", "api_url"):
        return _without_execution_path(edge.replace(EDGE_API_PATH, "execution"))
    if (base := option("api", "base_url")).startswith(("http://", "https://")):
        return base.rstrip("/")
    raise ApiServerWiringError(API_SERVER_UNKNOWN)


def _without_execution_path(execution_url: str) -> str:
    return execution_url.rstrip("/").removesuffix("/execution")


class PluginApiAnswer:
    """An answer of a plugin route: HTTP status, its JSON body (a dict), the URL asked, and whether the body was
    a JSON object at all (anything else did not come from the provider's routes)."""

    def __init__(self, status: int, body: dict[str, Any], url: str = "", is_json: bool = True) -> None:
        self.status = status
        self.body = body
        self.url = url
        self.is_json = is_json

    @property
    def detail(self) -> str:
        return str(self.body.get("detail") or self.body.get("message") or "")


def post_json(path: str, payload: dict[str, Any], *, timeout: float) -> PluginApiAnswer:
    """POST ``payload`` to ``<plugin api base><path>``; an unreachable api-server raises a retryable error.

    :param path: the route under ``/sf360/api``, e.g. ``"/renew"``.
    :param payload: a JSON object holding no secret (proofs only).
    :param timeout: seconds to wait for the answer.
    """
    url = plugin_api_base() + path
    request = urllib.request.Request(  # noqa: S310  (http(s) URL from Airflow's own configuration)
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with _NO_REDIRECTS.open(request, timeout=timeout) as response:
            return _answer(response.status, response.read(), url)
    except urllib.error.HTTPError as error:
        return _answer(error.code, error.read(), url)
    except (OSError, ValueError) as error:
        raise SalesforceUnreachableError(
            f"The Airflow api-server's sf360 API at {url} could not be reached ({type(error).__name__}). Tasks "
            "renew refresh tokens through the api-server, which must run the sf360 provider; nothing was "
            "redeemed. The task can be retried."
        ) from None


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the error it is: the request is not repeated elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def _answer(status: int, raw: bytes, url: str) -> PluginApiAnswer:
    body = _json_object(raw)
    return PluginApiAnswer(status, body or {}, url, is_json=body is not None)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (an HTML page, an empty or truncated answer)."""
    try:
        body = json.loads(raw[:65536])
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
