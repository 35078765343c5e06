"""The messages proofs sign (``core/proof.py``): no two distinct requests share one, for the renewal proof and the
audit proof; every field a route accepts is signed; the proof checks never raise on what a caller sends."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_sf360.core.proof import (
    PROOF_KEYS,
    SeenNonces,
    make_proof,
    proof_is_valid,
    read_signed_message,
    signed_message,
)
from airflow_provider_sf360.plugins.audit_api import AuditClaim
from airflow_provider_sf360.plugins.renewal_api import RenewalClaim
from airflow_provider_sf360.store.audit import AUDIT_FIELDS, EVENTS, OUTCOMES
from airflow_provider_sf360.store.audit import PROOF_PURPOSE as AUDIT_PURPOSE
from airflow_provider_sf360.store.renewal_client import RENEW_PURPOSE

TRICKY = st.sampled_from(["", "\n", "a\nb", "null", "None", '"', "\\", "\u2028", "\ud800", "é", "0", "true", "{}"])
TEXT = st.one_of(TRICKY, st.text(max_size=12))
MAYBE_TEXT = st.one_of(st.none(), TEXT)
NONCE = st.one_of(st.just("0" * 32), st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
TIMESTAMP = st.integers(min_value=0, max_value=2**40)

RENEWAL = st.fixed_dictionaries({
    "conn_id": TEXT, "state_key": TEXT, "generation": st.integers(min_value=-1, max_value=2**53),
    "refused": st.booleans(),
})
AUDIT = st.fixed_dictionaries({
    "event": st.one_of(st.sampled_from(EVENTS), TEXT), "conn_id": TEXT,
    "outcome": st.one_of(st.sampled_from(OUTCOMES), TEXT), "dag_id": MAYBE_TEXT, "task_id": MAYBE_TEXT,
    "run_id": MAYBE_TEXT, "message": MAYBE_TEXT,
})


def _typed(purpose: str, fields: dict[str, Any], timestamp: int, nonce: str) -> tuple[Any, ...]:
    """The request as a tuple in which True and 1, or None and "", stay different."""
    return (purpose, tuple((key, type(value).__name__, value) for key, value in sorted(fields.items())),
            timestamp, nonce)


def _message(purpose: str, fields: dict[str, Any], timestamp: int, nonce: str) -> bytes:
    return signed_message(purpose, fields, timestamp=timestamp, nonce=nonce)


def _moved_line(fields: dict[str, Any]) -> dict[str, Any]:
    """The last line of one text field moved to the start of the next: the same text under a joined encoding."""
    keys = [key for key, value in fields.items() if isinstance(value, str)]
    for first, second in pairwise(keys):
        head, newline, tail = fields[first].rpartition("\n")
        if newline:
            return {**fields, first: head, second: f"{tail}\n{fields[second]}"}
    return {**fields, keys[0]: fields[keys[0]] + "\n"} if keys else fields


@settings(max_examples=400, deadline=None)
@given(purpose=st.sampled_from([RENEW_PURPOSE, AUDIT_PURPOSE]), fields=st.one_of(RENEWAL, AUDIT),
       timestamp=TIMESTAMP, nonce=NONCE)
@example(purpose=AUDIT_PURPOSE, fields={"run_id": "r1\nx", "message": "m"}, timestamp=1, nonce="0" * 32)
@example(purpose=AUDIT_PURPOSE, fields={"dag_id": None, "message": ""}, timestamp=1, nonce="0" * 32)
def test_a_signed_message_reads_back_as_exactly_its_request(
    purpose: str, fields: dict[str, Any], timestamp: int, nonce: str
) -> None:
    """The encoding has an inverse, so no two distinct requests can share a signed message."""
    decoded = read_signed_message(_message(purpose, fields, timestamp, nonce))
    assert _typed(decoded["purpose"], decoded["fields"], decoded["timestamp"], decoded["nonce"]) == _typed(
        purpose, fields, timestamp, nonce)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), purpose=st.sampled_from([RENEW_PURPOSE, AUDIT_PURPOSE]), fields=st.one_of(RENEWAL, AUDIT),
       timestamp=TIMESTAMP, nonce=NONCE)
def test_distinct_requests_never_share_a_signed_message(
    data: st.DataObject, purpose: str, fields: dict[str, Any], timestamp: int, nonce: str
) -> None:
    """Pairs built to collide under a joined-text encoding: a line moved between fields, None for "", 1 for True."""
    other_fields = data.draw(st.one_of(
        st.just(_moved_line(fields)),
        st.just({key: ("" if value is None else None if value == "" else value) for key, value in fields.items()}),
        st.just({key: (int(value) if isinstance(value, bool) else value) for key, value in fields.items()}),
        st.just({key: (str(value) if isinstance(value, int) else value) for key, value in fields.items()}),
        st.one_of(RENEWAL, AUDIT),
    ))
    other = (data.draw(st.sampled_from([purpose, RENEW_PURPOSE, AUDIT_PURPOSE])), other_fields,
             data.draw(st.one_of(st.just(timestamp), TIMESTAMP)), data.draw(st.one_of(st.just(nonce), NONCE)))
    if _typed(*other) != _typed(purpose, fields, timestamp, nonce):
        assert _message(*other) != _message(purpose, fields, timestamp, nonce)


def test_the_routes_sign_every_field_they_accept() -> None:
    renewal_fields = set(RenewalClaim.model_fields) - set(PROOF_KEYS)
    claim = RenewalClaim(conn_id="c", state_key="sf360_token__" + "0" * 18 + "__" + "0" * 18 + "__" + "0" * 12,
                         generation=1, refused=False, timestamp=1, nonce="0" * 32, proof="0" * 64)
    assert set(claim.signed_fields()) == renewal_fields
    assert set(AuditClaim.model_fields) - set(PROOF_KEYS) == set(AUDIT_FIELDS)
    assert set(PROOF_KEYS) <= set(RenewalClaim.model_fields) and set(PROOF_KEYS) <= set(AuditClaim.model_fields)


@settings(max_examples=300, deadline=None)
@given(proof=st.one_of(st.text(max_size=80), st.binary(max_size=80).map(repr)), nonce=st.text(max_size=40),
       timestamp=st.one_of(st.integers(), st.integers(min_value=10**300)))
@example(proof="é" * 64, nonce="0" * 32, timestamp=1)
@example(proof="a" * 64, nonce="0" * 32, timestamp=int("9" * 400))
def test_proof_checks_never_raise_on_what_a_caller_sends(proof: str, nonce: str, timestamp: int) -> None:
    assert proof_is_valid(proof, "secret", purpose="renew", fields={}, timestamp=timestamp, nonce=nonce,
                          now=1_700_000_000) is False


def test_a_proof_is_good_once_per_nonce_and_window() -> None:
    seen = SeenNonces(capacity=2, window=10)
    proof = make_proof("s", purpose="renew", fields={"a": 1}, timestamp=100, nonce="1" * 32)
    assert proof_is_valid(proof, "s", purpose="renew", fields={"a": 1}, timestamp=100, nonce="1" * 32, now=105)
    assert seen.accept("1" * 32, 100, now=105) and not seen.accept("1" * 32, 100, now=106)  # a replay
    assert seen.accept("2" * 32, 100, now=106)
    assert not seen.accept("3" * 32, 100, now=107)  # full: refused, never a forgotten replay
    assert seen.accept("3" * 32, 120, now=111)  # the first two expired at 110 and made room
