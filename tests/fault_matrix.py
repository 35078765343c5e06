"""The fault matrix, shared by the task, CLI and UI-route tests: every Salesforce endpoint the provider calls
x every fault kind. Each row says which action reaches the endpoint and what the caller must see.

Expected everywhere: a bounded number of tries (``MAX_ATTEMPTS``), then a clear, classified error; the stored
token state is unchanged. Introspection only refines the expiry estimate, so its faults make setup succeed
with the assumed session timeout instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FAULTS = ("500", "503", "429", "delay", "drop", "malformed_json", "html_error")
MAX_ATTEMPTS = 2
REQUEST_TIMEOUT = 2.0  # seconds; the "delay" fault waits longer than this, so it is a timeout
DELAY_SECONDS = REQUEST_TIMEOUT + 1.0
LOST_ANSWER_TRIES = 2
LOST_ANSWER_MESSAGE = "lost their answers"


@dataclass(frozen=True)
class Row:
    """One endpoint: how a caller reaches it and what the outcome must be."""

    endpoint: str  # emulator endpoint name (request_counts key)
    flow: str  # connection flow used
    action: str  # setup | reset | test
    set_up_first: bool  # a token is stored before the fault
    expire_first: bool  # the cached access token is made stale first, so the action must refresh
    succeeds: bool  # the action still succeeds (introspection is optional)
    message: str  # text the caller shows
    answered_faults: tuple[str, ...] = ()  # faults that still carry the answer that counts (an HTTP 200)
    answered_tries: int = 1  # requests the action makes when every answer counts
    # Faults after which the request may have been processed (its answer lost): a consuming grant is never re-sent
    # blindly; introspection says the token was not used, so it is sent exactly once more.
    lost_faults: tuple[str, ...] = ()

    def expects_success(self, fault: str) -> bool:
        return self.succeeds or fault in self.answered_faults

    def expected_tries(self, fault: str, max_attempts: int) -> int:
        if fault in self.lost_faults:
            return LOST_ANSWER_TRIES
        return self.answered_tries if fault in self.answered_faults else max_attempts

    def expected_message(self, fault: str, max_attempts: int) -> str:
        """What the caller must show for a fault the action does not survive."""
        if fault in self.lost_faults:
            return LOST_ANSWER_MESSAGE
        return f"after {max_attempts} attempts"


ROWS = (
    # The refresh grant consumes the refresh token: a slow answer is waited for ([sf360] refresh_timeout), a lost
    # one is checked by introspection before the grant is sent again.
    Row("token", "authorization_code", "test", True, True, False, "Salesforce could not be reached",
        answered_faults=("delay",), lost_faults=("drop", "malformed_json")),
    Row("identity", "authorization_code", "test", True, False, False, "Salesforce could not be reached"),
    Row("rest", "authorization_code", "test", True, False, False, "Salesforce could not be reached"),
    # Salesforce's revoke answers 200 with an empty body: the status is the answer, a garbled body is ignored.
    Row("revoke", "authorization_code", "reset", True, False, False, "Salesforce could not be reached",
        answered_faults=("malformed_json",), answered_tries=2),  # refresh token, then access token
    Row("introspect", "client_credentials", "setup", False, False, True, "is set up for org"),
)

CASES = [(row, fault) for row in ROWS for fault in FAULTS]
CASE_IDS = [f"{row.endpoint}-{fault}" for row, fault in CASES]
SLOW_FAULTS = ("delay", "429")  # a request timeout waited out, Retry-After honoured: seconds each


def case_params() -> list[Any]:
    """The cases as pytest parameters, the ones that wait marked ``slow`` (``make test-fast`` leaves them out)."""
    import pytest

    return [pytest.param(row, fault, id=case_id, marks=[pytest.mark.slow] if fault in SLOW_FAULTS else [])
            for (row, fault), case_id in zip(CASES, CASE_IDS, strict=True)]


def markdown_table() -> str:
    """The matrix as the README shows it."""
    lines = [
        "| Endpoint (reached by) | Faults | Task / CLI / UI route outcome |",
        "|---|---|---|",
    ]
    for row in ROWS:
        outcome = (
            "setup succeeds; the expiry is assumed from `[sf360] session_timeout`"
            if row.succeeds
            else f"`max_attempts` tries, then \"{row.message} … after N attempts\" (retryable); stored token unchanged"
        )
        faults = [f for f in FAULTS if f not in row.answered_faults and f not in row.lost_faults]
        lines.append(f"| `{row.endpoint}` ({row.action}) | {', '.join(faults)} | {outcome} |")
        for fault in row.answered_faults:
            why = ("the slow answer is waited for (`[sf360] refresh_timeout`)" if fault == "delay"
                   else "HTTP 200 is the answer (Salesforce's revoke has an empty body)")
            lines.append(f"| `{row.endpoint}` ({row.action}) | {fault} | one try: {why}, the action succeeds |")
        if row.lost_faults:
            lines.append(f"| `{row.endpoint}` ({row.action}) | {', '.join(row.lost_faults)} | answer lost: "
                         "introspection says the token was not used, sent once more; lost again: "
                         "\"… lost their answers …\" (retryable); stored token unchanged |")
    return "\n".join(lines)
