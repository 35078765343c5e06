"""What Salesforce's token endpoint answered, read as hostile input: the token, or the error it means.

Each grant has its documented answer (``salesforce.md`` section 2; fixtures with their sources in
``tests/fixtures/salesforce_answers``): every grant sends ``access_token``, ``instance_url`` and ``id``; the web
server, refresh and client credentials answers also carry ``issued_at`` and ``signature``, the JWT bearer answer
carries neither. Where sources disagree both shapes are accepted: a missing ``issued_at`` is replaced by the time
the answer was received, and a ``signature`` is checked when one is sent and the Consumer Secret is known.
Errors are interpreted by ``core/oauth_errors.py``. Pure module, no Airflow import.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from airflow_provider_sf360.core.errors import SalesforceRequestError
from airflow_provider_sf360.core.grants import Grant
from airflow_provider_sf360.core.token_state import TokenResponse

MAX_ANSWER_BYTES = 256 * 1024  # Salesforce's OAuth answers are a few KB; more is refused before parsing
MAX_TOKEN_FIELD_CHARS = 16 * 1024  # JWT-based access tokens are ~2 KB
REQUIRED_TOKEN_FIELDS = ("access_token", "instance_url", "id")
OPTIONAL_TOKEN_FIELDS = ("refresh_token", "signature", "scope", "token_type", "id_token", "issued_at")
EARLIEST_ISSUED_AT = 946_684_800.0  # 2000-01-01: anything older is not a Salesforce issue time
MAX_CLOCK_AHEAD_SECONDS = 30 * 86_400  # how far Salesforce's clock may run ahead of ours


def signature_is_valid(answer: Mapping[str, Any], client_secret: str) -> bool:
    """Check Salesforce's ``signature``: Base64 HMAC-SHA256 of ``id + issued_at`` keyed with the secret (2-3).

    :param answer: the token answer (``id``, ``issued_at``, ``signature``).
    :param client_secret: the app's Consumer Secret.
    """
    message = (str(answer.get("id", "")) + str(answer.get("issued_at", ""))).encode()
    mac = hmac.new(client_secret.encode(), message, hashlib.sha256)
    return hmac.compare_digest(base64.b64encode(mac.digest()), str(answer.get("signature") or "").encode())


def issued_at_seconds(value: Any, now: float) -> float | None:
    """``issued_at`` (milliseconds as digits or a number) as epoch seconds, or None if implausible (section 3).

    :param value: the answer's ``issued_at``.
    :param now: the local clock, epoch seconds.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if not isinstance(value, int):
        return None
    seconds = value / 1000.0
    return seconds if EARLIEST_ISSUED_AT <= seconds <= now + MAX_CLOCK_AHEAD_SECONDS else None


def _field_problem(data: Mapping[str, Any]) -> str | None:
    for name in REQUIRED_TOKEN_FIELDS:
        if not isinstance(data.get(name), str) or not data[name].strip():
            return f"{name!r} is missing, empty or not a string"
    for name in OPTIONAL_TOKEN_FIELDS:
        value = data.get(name)
        if value is None or isinstance(value, str) or (name == "scope" and isinstance(value, list)):
            continue
        if name == "issued_at" and isinstance(value, int) and not isinstance(value, bool):
            continue
        return f"{name!r} is not a string"
    for name in (*REQUIRED_TOKEN_FIELDS, *OPTIONAL_TOKEN_FIELDS):
        if len(str(data.get(name) or "")) > MAX_TOKEN_FIELD_CHARS:
            return f"{name!r} is longer than {MAX_TOKEN_FIELD_CHARS} characters"
    return None


def token_answer_problem(data: Any, now: float) -> str | None:
    """Say what is wrong with a successful token answer (of any grant), or None when it is usable.

    :param data: the decoded JSON answer.
    :param now: the local clock, epoch seconds.
    """
    if not isinstance(data, Mapping):
        return f"it is a JSON {type(data).__name__}, not an object"
    problem = _field_problem(data)
    if problem:
        return problem
    if data.get("issued_at") is not None and issued_at_seconds(data["issued_at"], now) is None:
        return "'issued_at' is not a plausible time in milliseconds"
    return None


def token_response(
    data: Mapping[str, Any], grant: Grant, *, consumer_secret: str | None, received_at: float
) -> TokenResponse:
    """The token in a successful answer whose fields :func:`token_answer_problem` accepted.

    :param data: the decoded JSON answer.
    :param grant: the grant it answers.
    :param consumer_secret: the Consumer Secret, to check a ``signature`` that was sent.
    :param received_at: when the answer arrived (stands for a missing ``issued_at``).
    :raises SalesforceRequestError: the signature does not match the Consumer Secret.
    """
    if consumer_secret and data.get("signature") and not signature_is_valid(data, consumer_secret):
        raise SalesforceRequestError(
            "The token answer's signature does not match the Consumer Secret: the answer was altered or the "
            "connection's Consumer Secret is not the app's. Nothing was stored."
        )
    scope = data.get("scope") or ""
    refresh_token = data.get("refresh_token") or None
    return TokenResponse(
        access_token=data["access_token"],
        refresh_token=refresh_token if grant.consumes else None,
        instance_url=data["instance_url"],
        identity_url=data["id"],
        issued_at=issued_at_seconds(data.get("issued_at"), received_at) or received_at,
        scope=" ".join(scope) if isinstance(scope, list) else str(scope),
        signature=data.get("signature") or None,
    )
