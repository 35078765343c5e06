"""The renewal endpoint tasks call: one refresh-token redemption per credential, under the metadata-DB lock.

``POST /sf360/api/renew`` with ``{conn_id, state_key, generation, refused, timestamp, nonce, proof}``. Tasks hold
no Airflow identity they could present here (the supervisor keeps the Execution API token), so the caller proves
that it holds what the credential's tokens come from: ``proof`` is an HMAC over every other field
(``core/proof.py``), keyed with the stored refresh token for the refresh-token flows, and with the connection's
Private Key (JWT bearer) or Consumer Secret (client credentials) for the machine flows, whose tokens go through
here too so that many pods starting together make one grant. The answer holds no secret; the task reads the
renewed token from its Variable.

**Order of the checks.** Each step is cheaper than the next, and nothing a request names is looked up before its
proof verifies, except the one record the proof is verified against:

1. Shape (no lookup): a JSON object of at most :data:`MAX_BODY_BYTES` with exactly these fields and strict
   types; ``state_key`` of the form of a token Variable key, ``nonce`` and ``proof`` lowercase hex, numbers in
   range. Anything else: 422 with one fixed body.
2. Time (no lookup): ``timestamp`` within ``PROOF_WINDOW_SECONDS`` of the server's clock.
3. Replay (no lookup): a nonce this process accepted before.
4. Admission (no lookup): at most :data:`MAX_REQUESTS_IN_FLIGHT` requests past step 3 in this process; more:
   503 at once.
5. Proof: a primary-key read of the token Variable named by ``state_key`` in the metadata DB (no secrets backend
   is asked): its refresh token is the HMAC key. When it holds no refresh token (a machine flow, or none yet),
   a second primary-key read, of the ``sf360`` connection named by ``conn_id`` in the metadata DB: its Private
   Key (JWT bearer) or Consumer Secret (client credentials) is the key. A ``generation`` other than the stored
   one (0 for none), or a proof that does not match: refused. A stored state that
   cannot be read is the one exception: a provider error (``state_unreadable``) says an admin must reset it,
   since nothing can be verified against it. The nonce is then remembered: a second use is refused.
6. Connection: only a proven request reads the connection it names (with its team): it must be an ``sf360``
   connection whose credential is the proven state key.
7. Queue: this process's queue for the credential (an ``asyncio.Lock``, no thread held while waiting), at most
   :data:`MAX_QUEUED_PER_CREDENTIAL` proven requests; over-full: 503 at once (retryable, nothing redeemed). A
   request that has not started ``[sf360] lock_wait_timeout`` seconds after it arrived is not started (503). A
   request whose caller disconnected while it waited is dropped, not run.
8. Renewal, in the threadpool under the credential's database lock (``store/db_lock.py``), so api-server
   replicas and the CLI exclude each other too.

Every refusal (steps 2, 3, 5 and 6: unknown connection, another connection type, invalid fields, a wrong state
key, a wrong, stale or replayed proof) is the same answer, :func:`refusal`: 403 with one fixed body. The
api-server's log names the cause of refusals of proven requests (step 6) only.

**Replays.** Each process keeps the nonces it accepted for the proof window (bounded). Across replicas a
captured request is harmless: it is refused once its generation is no longer the stored one (step 5), and
``refused`` only ever names the access token of that generation, so under the lock the renewal compares it with
the stored token and sends no grant once any replica renewed. A replay is at most the same request again, at
most once per replica, within the window.

**Waits.** The server starts a renewal within ``lock_wait_timeout`` of the request's arrival or not at all
(steps 5 to 7 and the wait for a thread); the renewal then waits at most ``lock_wait_timeout`` for the host lock
and as long again for the database row lock, then makes at most ``SALESFORCE_CALLS_PER_RENEWAL`` Salesforce calls
of ``max_attempts`` tries each. The task waits longer than all of that together
(``store/plugin_api.py::renewal_answer_timeout``), so it never gives up while a grant it asked for may still be
sent; a task that gives up earlier (killed) is dropped from the queue. Nothing here logs a proof, a token or a
secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from airflow.utils.session import create_session
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from airflow_provider_sf360.core.connection_type import CONN_TYPE
from airflow_provider_sf360.core.errors import SF360Error, TokenStateUnreadableError
from airflow_provider_sf360.core.proof import (
    MAX_TIMESTAMP,
    NONCE_PATTERN,
    PROOF_PATTERN,
    SeenNonces,
    proof_is_valid,
    timestamp_is_fresh,
)
from airflow_provider_sf360.core.state_keys import token_key
from airflow_provider_sf360.core.token_state import TokenState
from airflow_provider_sf360.hooks.sf360 import SF360Hook
from airflow_provider_sf360.settings import lock_wait_timeout
from airflow_provider_sf360.store.connections import machine_flow_secret
from airflow_provider_sf360.store.masking import mask_token
from airflow_provider_sf360.store.renewal_client import RENEW_PURPOSE
from airflow_provider_sf360.store.token_store import VariableTokenStore
from airflow_provider_sf360.store.variables import SessionVariables

log = logging.getLogger(__name__)

router = APIRouter()

MAX_BODY_BYTES = 4096
MAX_REQUESTS_IN_FLIGHT = 512  # per process: requests being verified, queued or renewed
MAX_QUEUED_PER_CREDENTIAL = 64  # per process: proven requests waiting for (or holding) one credential's turn
VERIFYING_THREADS = 4  # threads reading token state for proofs at once (the rest wait without a thread)
STATE_KEY_PATTERN = r"^sf360_token__[A-Za-z0-9_.\-]{1,237}$"  # core/state_keys.token_key: a conn id or its digest
MAX_GENERATION = 2**53
REFUSED_DETAIL = "Renewal refused: the request does not carry a valid proof for this credential."
MALFORMED_DETAIL = "Malformed renewal request."


class RenewalClaim(BaseModel):
    """What a task sends; nothing in it is secret, and the proof covers every other field."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    conn_id: str = Field(min_length=1, max_length=250)
    state_key: str = Field(pattern=STATE_KEY_PATTERN)
    generation: int = Field(ge=0, le=MAX_GENERATION)  # 0: no token stored yet (machine flows)
    refused: bool
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)
    nonce: str = Field(pattern=NONCE_PATTERN)
    proof: str = Field(pattern=PROOF_PATTERN)

    def signed_fields(self) -> dict[str, str | int | bool | None]:
        """The fields the proof signs besides timestamp and nonce (``store/renewal_client.py`` sends these)."""
        return {"conn_id": self.conn_id, "state_key": self.state_key, "generation": self.generation,
                "refused": self.refused}


@dataclass
class _CredentialQueue:
    """This process's queue for one credential: proven requests wait on ``turn`` (no thread held)."""

    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    members: int = 0


_queues: dict[str, _CredentialQueue] = {}
_seen_nonces = SeenNonces()
_in_flight = 0
_verifying: anyio.CapacityLimiter | None = None


def _answer(http_status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=http_status, headers={"Cache-Control": "no-store"})


def refusal() -> JSONResponse:
    """The one answer to every refused request, whatever the cause."""
    return _answer(403, detail=REFUSED_DETAIL)


def _malformed() -> JSONResponse:
    return _answer(422, detail=MALFORMED_DETAIL)


def _busy(detail: str) -> JSONResponse:
    return _answer(503, reason="unreachable", permanent=False,
                   detail=f"{detail} Nothing was redeemed; the task can be retried.")


def _error_answer(error: Exception) -> JSONResponse:
    if isinstance(error, SF360Error):
        status = 409 if error.permanent else 503
        return _answer(status, reason=error.reason, detail=str(error), permanent=error.permanent)
    log.error("sf360 renewal failed unexpectedly: %s", type(error).__name__)
    return _answer(500, reason="unreachable", detail="The api-server failed to renew the token; retry.",
                   permanent=False)


def _state_unreadable() -> JSONResponse:
    return _answer(409, reason="state_unreadable", permanent=True, detail=(
        "The api-server cannot read the stored OAuth token state of this credential (edited by hand, truncated, or "
        "written by another tool), so it cannot renew it. Reset the OAuth token (the 'Reset' action or "
        "`sf360 reset`), then set it up again."))


# ------------------------------------------------------------------ steps 1-3: no lookup
async def read_capped_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` bytes (read no further).

    :param request: the incoming request.
    :param limit: the largest body accepted.
    """
    declared = request.headers.get("content-length", "")
    if len(declared) > 9 or (declared and not declared.isdigit()) or int(declared or 0) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def parse_claim(body: bytes) -> RenewalClaim | None:
    """The claim in a request body, or None when it is not exactly a well-formed renewal request.

    :param body: the raw request body.
    """
    try:
        data = json.loads(body)
        return RenewalClaim.model_validate(data) if isinstance(data, dict) else None
    except (ValueError, RecursionError, ValidationError):  # bad JSON or UTF-8, too deep, wrong fields
        return None


# ------------------------------------------------------------------ step 5: the proof (one lookup)
def _stored_state(state_key: str) -> TokenState | None:
    """The token state at ``state_key``: one primary-key read of the metadata DB, no secrets backend asked."""
    with create_session() as session:
        return VariableTokenStore(state_key, SessionVariables(session), mask_token).load()


def proof_key(claim: RenewalClaim, state: TokenState | None) -> str | None:
    """What the claim's proof must be keyed with: the stored refresh token, else (machine flows) the named
    connection's own secret, read by primary key from the metadata DB; None when there is nothing to verify."""
    if state is not None and state.refresh_token:
        return state.refresh_token
    if token_key(claim.conn_id) != claim.state_key:
        return None
    return machine_flow_secret(claim.conn_id)


def proven_state(claim: RenewalClaim, now: float) -> tuple[bool, TokenState | None]:
    """Whether the claim's proof verifies, and the stored state it verified against. Blocking: DB reads.

    Raises ``TokenStateUnreadableError`` when the stored state cannot be read.

    :param claim: a well-formed claim whose timestamp and nonce passed.
    :param now: the server's clock when the request arrived.
    """
    state = _stored_state(claim.state_key)
    key = proof_key(claim, state)
    if not key or (state.generation if state is not None else 0) != claim.generation:
        return False, None
    valid = proof_is_valid(claim.proof, key, purpose=RENEW_PURPOSE, fields=claim.signed_fields(),
                           timestamp=claim.timestamp, nonce=claim.nonce, now=now)
    return valid, state


def _verifying_limiter() -> anyio.CapacityLimiter:
    """Bounds the threads reading token state for proofs (created lazily inside the event loop)."""
    global _verifying
    if _verifying is None:
        _verifying = anyio.CapacityLimiter(VERIFYING_THREADS)
    return _verifying


async def _verify(claim: RenewalClaim, now: float) -> TokenState | JSONResponse | None:
    """Step 5: the proven state (None: a machine flow with none yet), or the answer (refusal, unreadable, busy)."""
    try:
        valid, state = await anyio.to_thread.run_sync(proven_state, claim, now, limiter=_verifying_limiter())
    except TokenStateUnreadableError:
        log.warning("sf360 renewal: the token state %s cannot be read; an admin must reset it", claim.state_key)
        return _state_unreadable()
    except Exception as error:  # the metadata DB is unreachable: nothing was verified
        log.warning("sf360 renewal: reading token state failed (%s)", type(error).__name__)
        return _busy("The api-server could not read the token state.")
    if not valid:
        log.debug("sf360 renewal refused before any connection lookup")
        return refusal()
    if claim.nonce in _seen_nonces:  # the same request verified twice at once: the first one wins
        return refusal()
    if not _seen_nonces.accept(claim.nonce, claim.timestamp, now):
        return _busy("The api-server is remembering too many renewal requests.")
    return state


# ------------------------------------------------------------------ step 6: the connection (proven requests)
def credential_hook(claim: RenewalClaim) -> SF360Hook | None:
    """The hook of the connection the proven claim names, if it is an sf360 connection of the proven credential.

    :param claim: a claim whose proof verified.
    """
    hook = SF360Hook(claim.conn_id)
    try:
        if hook.connection.conn_type != CONN_TYPE:
            cause = "it is not an sf360 connection"
        elif hook.lifecycle.state_key != claim.state_key:
            cause = "its token is not the proven credential's"
        else:
            return hook
    except Exception as error:  # not found where the api-server reads connections, or invalid fields
        cause = f"the api-server cannot use it ({type(error).__name__})"
    log.warning("sf360 renewal refused for connection %r: %s. Define it where the api-server reads connections "
                "(metadata DB or a secrets backend), as the sf360 connection whose token the task uses.",
                claim.conn_id, cause)
    return None


# ------------------------------------------------------------------ steps 7-8: queue and renewal
@dataclass(frozen=True)
class ProvenRenewal:
    """A renewal whose proof and connection were checked, and the latest moment it may start.

    :param hook: the proven connection's hook.
    :param claim: the proven claim.
    :param proven: the stored state the proof verified against.
    :param start_by: ``time.monotonic()`` after which it is not started (503): ``lock_wait_timeout`` after arrival.
    """

    hook: SF360Hook
    claim: RenewalClaim
    proven: TokenState | None
    start_by: float


def renew_for_task(renewal: ProvenRenewal) -> JSONResponse:
    """Renew under the credential lock (blocking); ``refused`` names the proven generation's access token only.

    Not started after ``start_by`` (the thread may have come late). The answer's ``status`` says whether the
    generation moved while this request had its turn in this process (``renewed``) or not (``current``); with
    replicas, one renewed by another replica in that time counts too.

    :param renewal: the proven request.
    """
    if time.monotonic() > renewal.start_by:
        return _busy("Waited too long for the renewal's turn.")
    stale = renewal.proven.access_token if renewal.claim.refused and renewal.proven is not None else None
    lifecycle = renewal.hook.lifecycle
    try:
        before = lifecycle.stored_state()
        renewed = lifecycle.renew(stale)
    except Exception as error:
        return _error_answer(error)
    outcome = "renewed" if before is None or renewed.generation != before.generation else "current"
    return _answer(200, status=outcome, generation=renewed.generation)


async def _in_turn(request: Request, renewal: ProvenRenewal) -> JSONResponse:
    """Step 7: wait for this credential's turn in this process (until ``start_by``), then step 8 unless the caller
    left meanwhile."""
    state_key = renewal.claim.state_key
    queue = _queues.setdefault(state_key, _CredentialQueue())
    if queue.members >= MAX_QUEUED_PER_CREDENTIAL:
        return _busy(f"{queue.members} renewal requests for this credential are already queued.")
    queue.members += 1
    try:
        await request.is_disconnected()  # lets the server notice a caller that leaves while queued
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + renewal.start_by - time.monotonic()):
                await queue.turn.acquire()
        except TimeoutError:
            return _busy("Waited too long for another renewal of this credential.")
        try:
            if await request.is_disconnected():
                log.info("sf360 renewal dropped: its caller disconnected while it was queued")
                return _busy("The caller disconnected.")
            return await run_in_threadpool(renew_for_task, renewal)
        finally:
            queue.turn.release()
    finally:
        queue.members -= 1
        if queue.members == 0:
            _queues.pop(state_key, None)


async def _renew_proven(request: Request, claim: RenewalClaim, now: float, start_by: float) -> JSONResponse:
    """Steps 5 to 8, for a well-formed, fresh, unseen claim."""
    verified = await _verify(claim, now)
    if isinstance(verified, JSONResponse):
        return verified
    hook = await run_in_threadpool(credential_hook, claim)
    if hook is None:
        return refusal()
    return await _in_turn(request, ProvenRenewal(hook, claim, verified, start_by))


def _start_deadline() -> float:
    """The latest ``time.monotonic()`` at which a request arriving now may start its renewal."""
    return time.monotonic() + lock_wait_timeout()


@router.post("/api/renew")
async def renew(request: Request) -> JSONResponse:
    """Renew one credential's token for a task (see the module docstring)."""
    global _in_flight
    body = await read_capped_body(request)
    claim = parse_claim(body) if body is not None else None
    if claim is None:
        return _malformed()
    now = time.time()
    if not timestamp_is_fresh(claim.timestamp, now) or claim.nonce in _seen_nonces:
        return refusal()
    if _in_flight >= MAX_REQUESTS_IN_FLIGHT:
        return _busy(f"The api-server has {_in_flight} renewal requests in progress.")
    _in_flight += 1
    try:
        return await _renew_proven(request, claim, now, _start_deadline())
    finally:
        _in_flight -= 1
