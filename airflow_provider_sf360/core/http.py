"""HTTP to Salesforce: one attempt of a request, classified, with no redirect followed and bounded answers.

``send_once`` turns what can go wrong on the wire into three outcomes: an answer, a
:class:`TransientFailureError` (retry with backoff: ``core/retry.py``), or :class:`GrantOutcomeUnknown` (a
request that consumes something was sent and its answer never came: never re-send it blindly, see
``core/renewal.py``). Which is which follows ``salesforce.md`` section 13: a connection that never opened, a
5xx or a 429 means Salesforce did not process the request; a read timeout or a connection broken after
sending means it may have. Pure module, no Airflow import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from airflow_provider_sf360.core.answers import MAX_ANSWER_BYTES
from airflow_provider_sf360.core.errors import SalesforceRequestError, SalesforceUnreachableError
from airflow_provider_sf360.core.grants import GrantOutcomeUnknown
from airflow_provider_sf360.core.retry import TransientFailureError

SessionT = TypeVar("SessionT", bound=requests.Session)


def short(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters (for messages quoting an answer)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _no_redirect_target(_response: requests.Response) -> None:
    return None


def refuse_redirects(session: SessionT) -> SessionT:
    """Make ``session`` hand back a 3xx answer as it is instead of following it.

    requests follows a redirect only when ``get_redirect_target`` names one; OAuth calls carry the Consumer
    Secret, codes and tokens in their body, so they never follow one. ``max_redirects = 0`` is a second lock.

    :param session: a ``requests.Session``; changed in place and returned.
    """
    session.get_redirect_target = _no_redirect_target  # type: ignore[method-assign,assignment]
    session.max_redirects = 0
    return session


def never_sent(error: requests.ConnectionError) -> bool:
    """True when the connection failed before the request could reach Salesforce (refused, DNS, connect timeout).

    :param error: the exception requests raised.
    """
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def retry_after(response: requests.Response) -> float | None:
    """Salesforce's ``Retry-After`` hint in seconds, if it sent a number."""
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def send_once(what: str, send: Callable[[], requests.Response], *, consuming: bool = False) -> requests.Response:
    """One attempt of a request; raises what the outcome means (see the module docstring).

    :param what: the request as messages name it.
    :param send: makes the request once.
    :param consuming: the request consumes a refresh token or a code (never re-sent after a lost answer).
    """
    try:
        response = send()
    except requests.exceptions.SSLError as exc:
        raise SalesforceUnreachableError(
            f"TLS verification failed for {what}: {short(str(exc))}. Check the host name and CA bundle "
            "(REQUESTS_CA_BUNDLE)."
        ) from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        if not consuming or (isinstance(exc, requests.ConnectionError) and never_sent(exc)):
            raise TransientFailureError(f"{type(exc).__name__} during {what}") from None
        if isinstance(exc, requests.Timeout):
            raise GrantOutcomeUnknown("no answer in time") from None
        raise GrantOutcomeUnknown("the connection broke after the request was sent") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientFailureError(f"HTTP {response.status_code} from {what}", retry_after(response))
    if 300 <= response.status_code < 400:
        raise redirect_refused(response, what)
    if len(response.content) > MAX_ANSWER_BYTES:
        raise SalesforceRequestError(
            f"HTTP {response.status_code} from {what} with a {len(response.content)}-byte body, more than the "
            f"{MAX_ANSWER_BYTES} bytes an OAuth answer can be; it was not read. Nothing was stored."
        )
    return response


def redirect_refused(response: requests.Response, what: str) -> SalesforceRequestError:
    """The error for a 3xx answer: nothing is sent where it points."""
    location = response.headers.get("Location", "")
    try:
        target = repr(short(urlsplit(location).hostname or "a relative URL", 80)) if location else "elsewhere"
    except ValueError:
        target = "elsewhere"
    return SalesforceRequestError(
        f"Salesforce answered {what} with HTTP {response.status_code}, a redirect to {target}; OAuth calls never "
        "follow redirects, so nothing was sent there. Check the connection's Login URL (My Domain): use the "
        "org's current https://<MyDomain>.my.salesforce.com URL."
    )


def json_body(response: requests.Response) -> Any:
    """The decoded JSON body, or raise ``ValueError`` when it is not JSON."""
    try:
        return response.json()
    except RecursionError:
        raise ValueError("nested too deeply") from None


def new_session() -> requests.Session:
    """A session that follows no redirect (honours ``REQUESTS_CA_BUNDLE`` as requests does)."""
    return refuse_redirects(requests.Session())
