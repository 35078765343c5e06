"""A stored token state that was edited or truncated ends in the provider's error, never a raw exception."""

from __future__ import annotations

import json

import pytest

from airflow_provider_sf360.core.errors import SF360Error, TokenStateUnreadableError
from airflow_provider_sf360.core.token_state import TokenState, TokenStatus

GOOD = TokenState(
    status=TokenStatus.ACTIVE, access_token="00D!AQtoken", instance_url="https://acme.my.salesforce.com",
    identity_url="https://login.salesforce.com/id/00D5e000000AbCdEAK/0055e000001XyZaAAK",
    org_id="00D5e000000AbCdEAK", user_id="0055e000001XyZaAAK", auth_flow="authorization_code",
    issued_at=1_700_000_000.0, expires_at=1_700_007_200.0, refresh_token="5Aeprefresh",
)


def _edited(**changes: object) -> str:
    data = json.loads(GOOD.to_json())
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not _DROP})


_DROP = object()
CORRUPT = {
    "not JSON": "{'status': 'active'",
    "empty": "",
    "a list": "[]",
    "null": "null",
    "deeply nested": "[" * 50_000 + "]" * 50_000,
    "status unknown": _edited(status="superb"),
    "status a list": _edited(status=["active"]),
    "access_token missing": _edited(access_token=_DROP),
    "access_token null": _edited(access_token=None),
    "access_token number": _edited(access_token=42),
    "refresh_token object": _edited(refresh_token={"v": 1}),
    "issued_at text": _edited(issued_at="yesterday"),
    "expires_at true": _edited(expires_at=True),
    "generation float": _edited(generation=1.5),
    "org_id number": _edited(org_id=5),
}


def test_round_trip_and_unknown_fields() -> None:
    assert TokenState.from_json(GOOD.to_json()) == GOOD
    assert TokenState.from_json(_edited(future_field="x")) == GOOD


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_state_is_the_providers_error(case: str) -> None:
    with pytest.raises(SF360Error) as err:
        TokenState.from_json(CORRUPT[case])
    assert isinstance(err.value, TokenStateUnreadableError)
    assert "reset the OAuth token" in str(err.value)
    assert "00D!AQtoken" not in str(err.value) and "5Aeprefresh" not in str(err.value)
