"""Proof that a caller holds a secret, without sending it: an HMAC over what it asks for and when.

Tasks have no Airflow identity they can present to a plugin route (the supervisor holds the Execution API
token), so the provider's task-facing routes authenticate callers by possession: a task that can read the
stored token (or the connection's secrets) proves it with ``HMAC-SHA256(key=secret, purpose|subject|time)``.
The server recomputes the proof from what it holds; nothing secret travels, and a replayed proof expires
after :data:`PROOF_WINDOW_SECONDS`. Pure module, no Airflow import.
"""

from __future__ import annotations

import hashlib
import hmac

PROOF_WINDOW_SECONDS = 300


def make_proof(secret: str, *, purpose: str, subject: str, timestamp: int) -> str:
    """The proof that the holder of ``secret`` asks for ``purpose`` on ``subject`` at ``timestamp``.

    :param secret: what the caller must hold (a refresh token, a connection secret); never sent.
    :param purpose: what the proof is good for, e.g. ``"renew"``; a proof for one purpose fails for another.
    :param subject: what it is about, e.g. a credential's state key or a connection id.
    :param timestamp: epoch seconds when the proof was made.
    """
    message = f"sf360-proof-v1\n{purpose}\n{subject}\n{timestamp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def proof_is_valid(
    proof: str, secret: str, *, purpose: str, subject: str, timestamp: int, now: float,
    window: float = PROOF_WINDOW_SECONDS,
) -> bool:
    """True when ``proof`` was made with ``secret`` for this purpose and subject within ``window`` seconds of now.

    :param proof: what the caller sent.
    :param secret: what the server holds and the caller must have held.
    :param purpose: see :func:`make_proof`.
    :param subject: see :func:`make_proof`.
    :param timestamp: the time the caller says it made the proof.
    :param now: the server's clock (epoch seconds).
    :param window: how far (either way) the caller's timestamp may be from ``now``.
    """
    if not secret or abs(now - timestamp) > window or len(proof) != 64:
        return False
    expected = make_proof(secret, purpose=purpose, subject=subject, timestamp=timestamp)
    return hmac.compare_digest(expected, proof)
