"""Signed, short-lived values for the page: the OAuth ``state``, the CSRF token and the flash message.

All are HMAC-SHA256 signed with ``[api] secret_key`` (the key Airflow's api-server already keeps secret).
A state binds one connection, one Airflow user and a nonce, and expires after ``STATE_TTL_SECONDS``;
single use is enforced by the hook, which pops the PKCE verifier stored under the state on first use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

STATE_TTL_SECONDS = 600
FLASH_TTL_SECONDS = 120


class InvalidStateError(ValueError):
    """A state or signed value that is forged, tampered with, expired or for someone else."""


def secret_key() -> bytes:
    """``[api] secret_key``; tests and the CLI fall back to a per-process random key when it is unset."""
    from airflow.configuration import conf

    key = conf.get("api", "secret_key", fallback="") or _PROCESS_KEY
    return key.encode()


_PROCESS_KEY = secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(purpose: str, body: str, key: bytes | None = None) -> str:
    digest = hmac.new(key or secret_key(), f"{purpose}|{body}".encode(), hashlib.sha256).digest()
    return _b64(digest)


def sign(purpose: str, payload: dict[str, Any], key: bytes | None = None) -> str:
    """``<base64 JSON>.<HMAC>``, the HMAC covering the purpose so values cannot be swapped between uses."""
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(purpose, body, key)}"


def unsign(purpose: str, value: str, key: bytes | None = None) -> dict[str, Any]:
    """The payload of a value made by :func:`sign`; raises :class:`InvalidStateError` when not genuine."""
    body, _, mac = (value or "").partition(".")
    if not body or not mac or not hmac.compare_digest(mac, _mac(purpose, body, key)):
        raise InvalidStateError("the value is not signed by this Airflow (forged or tampered with)")
    try:
        payload = json.loads(_unb64(body))
    except ValueError as exc:
        raise InvalidStateError("the value is malformed") from exc
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
    """A new signed state for one authorization attempt."""
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


def csrf_token(user_id: str) -> str:
    """The per-user CSRF token put in every form of the page."""
    return _mac("csrf", user_id)


def csrf_ok(user_id: str, token: str | None) -> bool:
    """Whether a submitted CSRF token belongs to this user."""
    return bool(token) and hmac.compare_digest(str(token), csrf_token(user_id))


def make_flash(ok: bool, message: str, user_id: str) -> str:
    """A signed one-off message for the page after a redirect (kept in a cookie, never in the URL)."""
    return sign("flash", {"ok": ok, "m": message, "u": user_id, "e": int(time.time() + FLASH_TTL_SECONDS)})


def read_flash(value: str | None, user_id: str) -> tuple[bool, str] | None:
    """The message of a flash cookie, or None when absent, forged, expired or for another user."""
    if not value:
        return None
    try:
        payload = unsign("flash", value)
    except InvalidStateError:
        return None
    if payload.get("u") != user_id or float(payload.get("e", 0)) < time.time():
        return None
    return bool(payload.get("ok")), str(payload.get("m", ""))
