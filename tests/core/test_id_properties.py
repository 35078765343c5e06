"""Property tests (Hypothesis) of the Salesforce ID parser: 15/18 round trips and the case rule.

The rule (``core/ids.py`` ``canonical_id``): an 18-character ID is accepted as typed when its checksum matches
the typed case, its case is restored from the checksum when it was typed in one case, and a mixed-case ID that
disagrees with its checksum is refused: a typo is never turned into another record's ID.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airflow_provider_sf360.core.ids import (
    InvalidSalesforceIdError,
    canonical_id,
    parse_org_id,
    parse_user_id,
    to18,
)

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
ids15 = st.text(alphabet=ALNUM, min_size=15, max_size=15)
org15 = st.text(alphabet=ALNUM, min_size=12, max_size=12).map(lambda rest: "00D" + rest)
user15 = st.text(alphabet=ALNUM, min_size=12, max_size=12).map(lambda rest: "005" + rest)
SETTINGS = settings(max_examples=1500, deadline=None, database=None)


@SETTINGS
@given(ids15)
def test_15_and_18_round_trip(id15: str) -> None:
    id18 = to18(id15)
    assert canonical_id(id15) == id18
    assert canonical_id(id18) == id18
    assert canonical_id(id18[:15] + id18[15:].lower()) == id18
    assert canonical_id(f"  {id18}\n") == id18


@SETTINGS
@given(ids15)
def test_18_typed_in_one_case_is_restored(id15: str) -> None:
    id18 = to18(id15)
    assert canonical_id(id18.lower()) == id18
    assert canonical_id(id18.upper()) == id18
    assert canonical_id(id18[:3] + id18[3:].lower()) == id18


@SETTINGS
@given(ids15, st.integers(0, 14), st.sampled_from(["case", "substitute"]), st.sampled_from(ALNUM))
def test_a_mixed_case_typo_is_never_rewritten(id15: str, position: int, kind: str, replacement: str) -> None:
    """Whatever the typo, a mixed-case input comes back exactly as typed (checksum in capitals) or is refused."""
    typed18 = to18(id15)
    char = typed18[position]
    new = char.swapcase() if kind == "case" else replacement
    assume(new != char)
    typo = typed18[:position] + new + typed18[position + 1 :]
    body = typo[3:15]
    assume(body != body.lower() and body != body.upper())  # mixed case: the typed case is meant
    try:
        result: str | Exception = canonical_id(typo)
    except InvalidSalesforceIdError as error:
        result = error
    if isinstance(result, Exception):
        assert "checksum" in str(result)
    else:
        assert result == typo[:15] + typo[15:].upper()  # only when the typo happens to keep the checksum valid


@SETTINGS
@given(org15, user15)
def test_parse_org_and_user(org: str, user: str) -> None:
    assert parse_org_id(org) == to18(org)
    assert parse_user_id(user) == to18(user)
    with pytest.raises(InvalidSalesforceIdError, match=r"looks like a User ID; .*swapped"):
        parse_org_id(user)
    with pytest.raises(InvalidSalesforceIdError, match=r"looks like an Org ID; .*swapped"):
        parse_user_id(org)


@SETTINGS
@given(st.text(alphabet=ALNUM, min_size=15, max_size=15))
def test_swapped_hint_only_for_the_other_kind(id15: str) -> None:
    assume(id15[:3] not in ("00D", "005"))
    for parse in (parse_org_id, parse_user_id):
        with pytest.raises(InvalidSalesforceIdError) as error:
            parse(id15)
        assert "swapped" not in str(error.value)


@SETTINGS
@given(st.text(max_size=40))
def test_any_text_is_an_id_or_a_named_error(text: str) -> None:
    try:
        outcome = parse_org_id(text)
    except InvalidSalesforceIdError as error:
        outcome = str(error)
        assert outcome.startswith("Salesforce Org ID: ")
    else:
        assert len(outcome) == 18


def test_the_reported_checksum_cases() -> None:
    """``...AbCdAAA`` is a checksum mismatch (not a swapped field); ``...AbCdEAA`` is not rewritten."""
    for typo in ("00D5e000000AbCdAAA", "00D5e000000AbCdEAA"):
        with pytest.raises(InvalidSalesforceIdError) as error:
            parse_org_id(typo)
        assert "checksum mismatch" in str(error.value) and "swapped" not in str(error.value)
        assert str(error.value).startswith("Salesforce Org ID: ")
    assert parse_org_id("00D5e000000AbCdEAK") == "00D5e000000AbCdEAK"
    assert parse_org_id("00d5e000000abcdeak") == "00D5e000000AbCdEAK"
    assert parse_org_id("00D5E000000ABCDEAK") == "00D5e000000AbCdEAK"
