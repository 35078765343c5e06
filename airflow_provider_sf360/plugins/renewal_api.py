"""The renewal endpoint tasks call: one refresh-token redemption per credential, under the metadata-DB lock.

``POST /sf360/api/renew`` with ``{conn_id, state_key, generation, refused, timestamp, proof}``. Tasks hold no
Airflow identity they could present here (the supervisor keeps the Execution API token), so the caller proves
that it holds the refresh token it wants replaced: ``proof`` is an HMAC keyed with that token
(``core/proof.py``). No proof: 401; a proof that does not match the stored token (or a stale timestamp): 403.
The answer holds no secret; the task reads the renewed token from its Variable.

Waiters for one credential queue on an ``asyncio.Lock`` (no thread is held while waiting); the renewal itself runs
in the threadpool and takes the credential's database lock (``store/db_lock.py``), so api-server replicas and
the CLI exclude each other too. Nothing here logs a proof, a token or a secret.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

router = APIRouter()
_waiters: dict[str, asyncio.Lock] = {}
MAX_TRACKED_CREDENTIALS = 10_000  # state keys arrive before any proof is checked: bound what they can allocate


def _queue_for(state_key: str) -> asyncio.Lock:
    """This process's queue for one credential; idle queues are dropped when too many are tracked."""
    if state_key not in _waiters and len(_waiters) >= MAX_TRACKED_CREDENTIALS:
        for key in [key for key, lock in _waiters.items() if not lock.locked()]:
            del _waiters[key]
    return _waiters.setdefault(state_key, asyncio.Lock())


class RenewalRequest(BaseModel):
    """What a task sends; nothing in it is secret."""

    conn_id: str = Field(min_length=1, max_length=250)
    state_key: str = Field(min_length=1, max_length=250)
    generation: int | None = None
    refused: bool = False
    timestamp: int = 0
    proof: str | None = Field(default=None, max_length=128)


def _answer(http_status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=http_status, headers={"Cache-Control": "no-store"})


def _error_answer(error: Exception) -> JSONResponse:
    from airflow_provider_sf360.core.errors import SF360Error

    if isinstance(error, SF360Error):
        status = 409 if error.permanent else 503
        return _answer(status, reason=error.reason, detail=str(error), permanent=error.permanent)
    log.error("sf360 renewal failed unexpectedly: %s", type(error).__name__)
    return _answer(500, reason="unreachable", detail="The api-server failed to renew the token; retry.",
                   permanent=False)


def renew_for_task(request: RenewalRequest, now: float) -> JSONResponse:
    """Check the caller's proof against the stored token, then renew under the credential lock (blocking)."""
    from airflow_provider_sf360.core.errors import SF360Error
    from airflow_provider_sf360.core.proof import proof_is_valid
    from airflow_provider_sf360.hooks.sf360 import SF360Hook
    from airflow_provider_sf360.store.renewal_client import RENEW_PURPOSE

    hook = SF360Hook(request.conn_id)
    try:
        credentials = hook.credentials
    except SF360Error as error:  # the connection's fields are wrong: the same message the task would give
        return _error_answer(error)
    except Exception:  # not found (or unreadable) where the api-server reads connections
        return _answer(
            404, reason="invalid_credentials",
            detail=f"The api-server cannot read connection {request.conn_id!r}: define it where the api-server "
            "reads connections (metadata DB or a secrets backend), not only in workers' environment.",
            permanent=True)
    lifecycle = hook.lifecycle
    state_key = lifecycle.state_key
    if state_key != request.state_key:
        return _answer(409, reason="renewal_refused", permanent=False,
                       detail="The connection's org, user or app changed since the task read it; retry the task.")
    state = lifecycle.stored_state()
    secret = state.refresh_token if state is not None else credentials.refresh_token
    valid = proof_is_valid(request.proof or "", secret or "", purpose=RENEW_PURPOSE, subject=state_key,
                           timestamp=request.timestamp, now=now)
    if not valid:
        return _answer(403, detail="The proof does not match the stored token.")
    stale = state.access_token if state is not None and request.refused else None
    if state is not None and request.generation is not None and request.generation != state.generation:
        stale = None  # the caller saw an older token: the current one may be fine
    try:
        renewed = lifecycle.renew(stale)
    except Exception as error:
        return _error_answer(error)
    outcome = "renewed" if state is None or renewed.generation != state.generation else "current"
    return _answer(200, status=outcome, generation=renewed.generation)


@router.post("/api/renew")
async def renew(payload: dict[str, Any] | None = Body(default=None)) -> JSONResponse:  # noqa: B008
    """Renew one credential's token for a task (see the module docstring)."""
    if not payload or not payload.get("proof"):
        return _answer(401, detail="Not authenticated: a proof of the stored refresh token is required.")
    try:
        request = RenewalRequest.model_validate(payload)
    except ValueError:
        return _answer(422, detail="Malformed renewal request.")
    async with _queue_for(request.state_key):
        return await run_in_threadpool(renew_for_task, request, time.time())
