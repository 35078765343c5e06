"""How task code reaches the provider's routes on the api-server (``/sf360/api/...``).

Every Airflow 3 deployment has an api-server that workers reach: ``[core] execution_api_server_url``
(``http://<host>:<port>[/<base>]/execution/``). The provider's plugin app is mounted on the same server under
``/sf360``, so its API lives at ``<base>/sf360/api``. ``[sf360] api_server_url`` overrides the base (e.g. when
workers reach the api-server through another name). Callers authenticate by proof of possession
(``core/proof.py``): a request and its answer carry no secret.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from airflow_provider_sf360.core.errors import SalesforceUnreachableError

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
    from airflow_provider_sf360.settings import lock_wait_timeout, refresh_timeout, request_timeout, retry_policy

    retry = retry_policy()
    one_try = request_timeout() + max(request_timeout(), refresh_timeout())
    one_call = retry.attempts * one_try + (retry.attempts - 1) * retry.max_delay
    return 3 * lock_wait_timeout() + SALESFORCE_CALLS_PER_RENEWAL * one_call + ANSWER_MARGIN_SECONDS


def plugin_api_base() -> str:
    """``<api-server base>/sf360/api`` as a task on this worker reaches it."""
    from airflow.sdk import conf

    override = (conf.get("sf360", "api_server_url", fallback="") or "").strip()
    if override:
        return override.rstrip("/") + PLUGIN_API_PATH
    execution = (conf.get("core", "execution_api_server_url", fallback="") or "").strip()
    if not execution:
        base = (conf.get("api", "base_url", fallback="") or "http://localhost:8080").strip()
        return base.rstrip("/") + PLUGIN_API_PATH
    return execution.rstrip("/").removesuffix("/execution") + PLUGIN_API_PATH


class PluginApiAnswer:
    """An answer of a plugin route: HTTP status and its JSON body (a dict)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body

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
            return PluginApiAnswer(response.status, _json_object(response.read()))
    except urllib.error.HTTPError as error:
        return PluginApiAnswer(error.code, _json_object(error.read()))
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


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw[:65536] or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
