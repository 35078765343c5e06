"""Signed, short-lived values for the page: the OAuth ``state``, the CSRF token and the flash message.

All are made with itsdangerous (``URLSafeTimedSerializer``) keyed by ``[api] secret_key`` (the key Airflow's
api-server already keeps secret), one salt per purpose so that a value made for one use fails for another.
A state binds one connection, one Airflow user and a nonce, and expires after ``STATE_TTL_SECONDS``;
single use is enforced by the hook, which pops the PKCE verifier stored under the state on first use.
A CSRF token binds the user and the Airflow session (a digest of its ``_token`` JWT) and expires after
``CSRF_TTL_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from airflow.configuration import conf
from itsdangerous import BadData, URLSafeTimedSerializer

STATE_TTL_SECONDS = 600
FLASH_TTL_SECONDS = 120
CSRF_TTL_SECONDS = 8 * 3600
MAX_SIGNED_LENGTH = 4096  # refuse oversized values before any decoding


class InvalidStateError(ValueError):
    """A state or signed value that is forged, tampered with, expired or for someone else."""


def secret_key() -> bytes:
    """``[api] secret_key``; tests and the CLI fall back to a per-process random key when it is unset."""
    key = conf.get("api", "secret_key", fallback="") or _PROCESS_KEY
    return key.encode()


_PROCESS_KEY = secrets.token_urlsafe(32)


def _serializer(purpose: str, key: bytes | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key or secret_key(), salt=f"sf360-{purpose}")


def sign(purpose: str, payload: dict[str, Any], key: bytes | None = None) -> str:
    """A URL-safe signed value (payload, time and signature); the purpose is the salt."""
    return str(_serializer(purpose, key).dumps(payload))


def unsign(purpose: str, value: str, key: bytes | None = None, max_age: int | None = None) -> dict[str, Any]:
    """The payload of a value made by :func:`sign`; raises :class:`InvalidStateError` when not genuine.

    :param purpose: the purpose the value was signed for.
    :param value: the signed value.
    :param key: the signing key (default ``[api] secret_key``).
    :param max_age: refuse values signed longer ago than this many seconds.
    """
    if not value or len(value) > MAX_SIGNED_LENGTH:
        raise InvalidStateError("the value is not signed by this Airflow (forged or tampered with)")
    try:
        payload = _serializer(purpose, key).loads(value, max_age=max_age)
    except BadData as exc:
        if "expired" in type(exc).__name__.lower() or "age" in str(exc).lower():
            raise InvalidStateError("the value has expired") from None
        raise InvalidStateError("the value is not signed by this Airflow (forged or tampered with)") from None
    if not isinstance(payload, dict):
        raise InvalidStateError("the value is malformed")
    return payload


@dataclass(frozen=True)
class OAuthState:
    """What a state value binds: the connection, the Airflow user and a nonce, until ``expires_at``."""

    conn_id: str
    username: str
    nonce: str
    expires_at: float


def make_state(conn_id: str, username: str, ttl: float = STATE_TTL_SECONDS, key: bytes | None = None) -> str:
    """A new signed state for one authorization attempt.

    :param conn_id: the connection being set up.
    :param username: the Airflow user (or CLI actor) starting the setup.
    :param ttl: seconds the sign-in may take.
    :param key: the signing key (default ``[api] secret_key``).
    """
    payload = {"c": conn_id, "u": username, "n": secrets.token_urlsafe(16), "e": int(time.time() + ttl)}
    return sign("oauth-state", payload, key)


def read_state(value: str, username: str | None = None, key: bytes | None = None) -> OAuthState:
    """Check signature, expiry and (when given) the user; raises :class:`InvalidStateError`."""
    payload = unsign("oauth-state", value, key)
    try:
        state = OAuthState(str(payload["c"]), str(payload["u"]), str(payload["n"]), float(payload["e"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidStateError("the state is malformed") from exc
    if state.expires_at < time.time():
        raise InvalidStateError("the sign-in took longer than 10 minutes; start the setup again")
    if username is not None and not hmac.compare_digest(state.username, username):
        raise InvalidStateError("the setup was started by another Airflow user")
    return state


def session_digest(session_token: str | None) -> str:
    """A short digest of the Airflow session's JWT (never the token itself) to bind CSRF tokens to."""
    return hashlib.sha256((session_token or "").encode()).hexdigest()[:32]


def csrf_token(user_id: str, session_token: str | None = None, key: bytes | None = None) -> str:
    """The CSRF token put in every form of the page: this user, this Airflow session, for ``CSRF_TTL_SECONDS``.

    :param user_id: the Airflow user's id.
    :param session_token: the ``_token`` cookie (or Bearer token) of the request.
    :param key: the signing key (default ``[api] secret_key``).
    """
    return sign("csrf", {"u": user_id, "s": session_digest(session_token)}, key)


def csrf_ok(user_id: str, token: str | None, session_token: str | None = None, key: bytes | None = None) -> bool:
    """Whether a submitted CSRF token was made for this user and session and is not older than its window."""
    try:
        payload = unsign("csrf", token or "", key, max_age=CSRF_TTL_SECONDS)
    except InvalidStateError:
        return False
    return payload.get("u") == user_id and hmac.compare_digest(
        str(payload.get("s", "")), session_digest(session_token)
    )


def make_flash(ok: bool, message: str, user_id: str) -> str:
    """A signed one-off message for the page after a redirect (kept in a cookie, never in the URL)."""
    return sign("flash", {"ok": ok, "m": message, "u": user_id})


def read_flash(value: str | None, user_id: str) -> tuple[bool, str] | None:
    """The message of a flash cookie, or None when absent, forged, expired or for another user."""
    if not value:
        return None
    try:
        payload = unsign("flash", value, max_age=FLASH_TTL_SECONDS)
    except InvalidStateError:
        return None
    if payload.get("u") != user_id:
        return None
    return bool(payload.get("ok")), str(payload.get("m", ""))
