from __future__ import annotations

import pytest

from airflow_provider_sf360.core.ids import (
    InvalidSalesforceIdError,
    canonical_id,
    checksum,
    parse_org_id,
    parse_user_id,
    to18,
)

# Public worked examples from ../shared/docs/salesforce.md section 8.
WORKED = [
    ("a0RE000000IJmcN", "a0RE000000IJmcNMAT"),
    ("00D5e000000AbCd", "00D5e000000AbCdEAK"),
    ("0055e000001XyZa", "0055e000001XyZaAAK"),
    ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
]


@pytest.mark.parametrize(("id15", "id18"), WORKED)
def test_worked_examples(id15: str, id18: str) -> None:
    assert to18(id15) == id18
    assert canonical_id(id15) == id18
    assert canonical_id(id18) == id18
    assert checksum(id15) == id18[15:]


@pytest.mark.parametrize(("typed", "canonical"), [
    ("a0re000000ijmcnmat", "a0RE000000IJmcNMAT"),
    ("A0RE000000IJMCNMAT", "a0RE000000IJmcNMAT"),
    ("00d5e000000abcdeak", "00D5e000000AbCdEAK"),
    ("00D5e000000abcdeak", "00D5e000000AbCdEAK"),  # key prefix typed in capitals, the rest in one case
    ("00D5e000000AbCdeak", "00D5e000000AbCdEAK"),  # checksum typed in lower case
    ("  0055e000001XyZaAAK\n", "0055e000001XyZaAAK"),
])
def test_18_char_ids_are_case_insensitive(typed: str, canonical: str) -> None:
    assert canonical_id(typed) == canonical


def test_all_upper_id_round_trips() -> None:
    assert to18("ABCDEABCDEABCDE") == "ABCDEABCDEABCDE555"
    assert canonical_id("abcdeabcdeabcde555") == "ABCDEABCDEABCDE555"


@pytest.mark.parametrize(("value", "fragment"), [
    ("00D5e000000AbC", "14 characters"),
    ("00D5e000000AbCdEA", "17 characters"),
    ("00D5e000000AbCdEAKX", "19 characters"),
    ("00D5e-00000AbCd", "only the letters"),
    ("", "empty"),
    ("00D5e000000AbCd9AK", "checksum"),  # '9' is outside the checksum alphabet
    ("0055e000001XyZaAB0", "checksum"),  # bit set on a digit position
])
def test_malformed_ids_are_rejected(value: str, fragment: str) -> None:
    with pytest.raises(InvalidSalesforceIdError, match=fragment):
        canonical_id(value)


def test_swapped_fields_are_named() -> None:
    with pytest.raises(InvalidSalesforceIdError) as err:
        parse_org_id("0055e000001XyZa")
    assert "Salesforce Org ID" in str(err.value)
    assert "looks like a User ID" in str(err.value)
    with pytest.raises(InvalidSalesforceIdError, match="looks like an Org ID"):
        parse_user_id("00D5e000000AbCd")


def test_other_prefixes_are_rejected_with_the_prefix() -> None:
    with pytest.raises(InvalidSalesforceIdError, match="starts with '001'"):
        parse_org_id(to18("001000000000001"))


def test_15_char_ids_keep_their_case() -> None:
    # A 15-character ID in the wrong case is a different, valid ID: only an access test can tell.
    assert parse_org_id("00D5E000000ABCD") != parse_org_id("00D5e000000AbCd")
