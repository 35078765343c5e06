"""Proof that a caller holds a secret, without sending it: an HMAC over everything it asks for, when, and a nonce.

Tasks have no Airflow identity they can present to a plugin route (the supervisor holds the Execution API
token), so the provider's task-facing routes authenticate callers by possession: a task that can read the
stored token (or the connection's secrets) proves it with ``HMAC-SHA256(key=secret, message)``. The server
recomputes the proof from what it holds; nothing secret travels.

The signed message is one canonical encoding of every field of the request (``sf360-proof-v2``)::

    b"sf360-proof-v2\\n" + JSON({"fields": {<every field>}, "nonce": <nonce>, "purpose": <purpose>,
                                 "timestamp": <epoch seconds>})

JSON with sorted keys, no whitespace and ``ensure_ascii``: strings are quoted and escaped, so no value can
spill into another field, and ``null`` is not ``""``, ``1`` is not ``"1"`` nor ``true``. The encoding can be
read back into the very fields it was made from (:func:`read_signed_message`), so two different requests never
share a signed message. A proof is good for :data:`PROOF_WINDOW_SECONDS` either side of the server's clock,
once: servers keep the nonces they accepted for that window (:class:`SeenNonces`).

Pure module, no Airflow import.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Mapping
from typing import Any

PROOF_FORMAT = "sf360-proof-v2"
PROOF_WINDOW_SECONDS = 300
NONCE_BYTES = 16
MAX_TIMESTAMP = 2**40  # epoch seconds far beyond any real clock; bounds what a caller may send
MAX_SEEN_NONCES = 100_000  # per server process; only proofs that verified are remembered
PROOF_KEYS = ("timestamp", "nonce", "proof")  # what a proven request adds to its fields
PROOF_PATTERN = r"^[0-9a-f]{64}$"
NONCE_PATTERN = r"^[0-9a-f]{32}$"
_PROOF_SHAPE = re.compile(PROOF_PATTERN)
_NONCE_SHAPE = re.compile(NONCE_PATTERN)

ProofValue = str | int | bool | None
"""What a signed field may hold: text, an integer, a flag or nothing (each encoded distinctly)."""


def new_nonce() -> str:
    """A fresh random nonce (32 lowercase hex characters)."""
    return secrets.token_hex(NONCE_BYTES)


def signed_message(purpose: str, fields: Mapping[str, ProofValue], *, timestamp: int, nonce: str) -> bytes:
    """The bytes a proof signs: the canonical encoding of purpose, every field, time and nonce.

    :param purpose: what the proof is good for, e.g. ``"renew"``; a proof for one purpose fails for another.
    :param fields: every field of the request (names to text, integers, flags or None).
    :param timestamp: epoch seconds when the proof was made.
    :param nonce: a fresh random value (:func:`new_nonce`), so that each proof is good once.
    """
    body = {"fields": dict(fields), "nonce": nonce, "purpose": purpose, "timestamp": timestamp}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return f"{PROOF_FORMAT}\n{text}".encode("ascii")


def read_signed_message(message: bytes) -> dict[str, Any]:
    """The purpose, fields, timestamp and nonce a signed message was made from (its inverse, for tests and audits).

    :param message: bytes made by :func:`signed_message`.
    """
    head, _, text = message.decode("ascii").partition("\n")
    if head != PROOF_FORMAT:
        raise ValueError("not an sf360 proof message")
    return dict(json.loads(text))


def make_proof(
    secret: str, *, purpose: str, fields: Mapping[str, ProofValue], timestamp: int, nonce: str
) -> str:
    """The proof that the holder of ``secret`` sends exactly ``fields`` for ``purpose`` at ``timestamp``.

    :param secret: what the caller must hold (a refresh token, a connection secret); never sent.
    :param purpose: see :func:`signed_message`.
    :param fields: see :func:`signed_message`.
    :param timestamp: see :func:`signed_message`.
    :param nonce: see :func:`signed_message`.
    """
    message = signed_message(purpose, fields, timestamp=timestamp, nonce=nonce)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def proven_request(
    secret: str, *, purpose: str, fields: Mapping[str, ProofValue], timestamp: int
) -> dict[str, ProofValue]:
    """The request to send: ``fields`` plus ``timestamp``, a fresh ``nonce`` and the ``proof`` over all of them.

    :param secret: what the caller must hold; never sent.
    :param purpose: see :func:`signed_message`.
    :param fields: every field of the request (none named like :data:`PROOF_KEYS`).
    :param timestamp: epoch seconds now.
    """
    if set(fields) & set(PROOF_KEYS):
        raise ValueError(f"field names {PROOF_KEYS} are reserved for the proof")
    nonce = new_nonce()
    proof = make_proof(secret, purpose=purpose, fields=fields, timestamp=timestamp, nonce=nonce)
    return {**fields, "timestamp": timestamp, "nonce": nonce, "proof": proof}


def timestamp_is_fresh(timestamp: int, now: float, window: float = PROOF_WINDOW_SECONDS) -> bool:
    """True when ``timestamp`` is within ``window`` seconds (either way) of ``now``.

    :param timestamp: the time the caller says it made the proof.
    :param now: the server's clock (epoch seconds).
    :param window: how far the caller's clock may be from the server's.
    """
    return 0 <= timestamp <= MAX_TIMESTAMP and abs(now - timestamp) <= window


def is_proof_shaped(proof: object) -> bool:
    """True for 64 lowercase hex characters (what :func:`make_proof` makes); anything else is refused unread."""
    return isinstance(proof, str) and _PROOF_SHAPE.fullmatch(proof) is not None


def is_nonce_shaped(nonce: object) -> bool:
    """True for 32 lowercase hex characters (what :func:`new_nonce` makes)."""
    return isinstance(nonce, str) and _NONCE_SHAPE.fullmatch(nonce) is not None


def proof_is_valid(
    proof: str, secret: str, *, purpose: str, fields: Mapping[str, ProofValue], timestamp: int, nonce: str,
    now: float, window: float = PROOF_WINDOW_SECONDS,
) -> bool:
    """True when ``proof`` was made with ``secret`` for exactly these fields, within ``window`` seconds of now.

    Never raises on what a caller sends: a proof or nonce of the wrong shape, or a timestamp out of range, is
    False before any HMAC is computed. Whether the nonce was seen before is :class:`SeenNonces`' business.

    :param proof: what the caller sent.
    :param secret: what the server holds and the caller must have held.
    :param purpose: see :func:`signed_message`.
    :param fields: the request's fields as the server received them.
    :param timestamp: the time the caller says it made the proof.
    :param nonce: the caller's nonce.
    :param now: the server's clock (epoch seconds).
    :param window: how far (either way) the caller's timestamp may be from ``now``.
    """
    if not secret or not is_proof_shaped(proof) or not is_nonce_shaped(nonce):
        return False
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not timestamp_is_fresh(timestamp, now, window):
        return False
    expected = make_proof(secret, purpose=purpose, fields=fields, timestamp=timestamp, nonce=nonce)
    return hmac.compare_digest(expected, proof)


class SeenNonces:
    """The nonces of proofs one server process accepted, each kept until its proof's window has passed.

    Bounded: when full (after dropping expired ones) it accepts no new nonce, so a flood can cost memory only up
    to :data:`MAX_SEEN_NONCES` entries, and never makes a replay pass. Thread-safe: :meth:`accept` checks and
    inserts under one lock, so of two uses of a nonce at once exactly one is accepted.

    :param capacity: how many nonces it keeps at most.
    :param window: how long after its timestamp a proof stays good (its nonce is kept that long).
    """

    def __init__(self, capacity: int = MAX_SEEN_NONCES, window: float = PROOF_WINDOW_SECONDS) -> None:
        self.capacity = capacity
        self.window = window
        self._expiry: dict[str, float] = {}
        self._guard = threading.Lock()

    def __contains__(self, nonce: object) -> bool:
        with self._guard:
            return nonce in self._expiry

    def __len__(self) -> int:
        with self._guard:
            return len(self._expiry)

    def accept(self, nonce: str, timestamp: int, now: float) -> bool:
        """Remember ``nonce``; False when it was seen before (a replay) or no room is left.

        Callers that answer the two differently (refused, or busy: retry later) ask ``nonce in seen`` first.

        :param nonce: the nonce of a proof that verified.
        :param timestamp: that proof's timestamp.
        :param now: the server's clock.
        """
        with self._guard:
            if nonce in self._expiry:
                return False
            if len(self._expiry) >= self.capacity:
                self._expiry = {seen: until for seen, until in self._expiry.items() if until >= now}
                if len(self._expiry) >= self.capacity:
                    return False
            self._expiry[nonce] = timestamp + self.window
            return True
