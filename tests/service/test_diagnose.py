"""``sf360 doctor``: each check against the emulator, with what it saw and where to fix it."""

from __future__ import annotations

import pytest

from airflow_provider_sf360.core.diagnosis import Verdict
from airflow_provider_sf360.core.jwt_keys import generate_jwt_key_pair
from airflow_provider_sf360.service.diagnose import diagnose
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import ConnFactory, actions_for, hook_for, set_up_web_flow


def _verdicts(conn_id: str, **kwargs: object) -> dict[str, Verdict]:
    result = diagnose(conn_id, hook=hook_for(conn_id), **kwargs)  # type: ignore[arg-type]
    return {check.name: check.verdict for check in result.checks}


@pytest.mark.parametrize("flow", ["jwt_bearer", "client_credentials"])
def test_a_healthy_machine_flow_passes_and_its_probe_token_is_revoked(
    emulator: SalesforceEmulator, make_connection: ConnFactory, flow: str
) -> None:
    verdicts = _verdicts(make_connection(flow))
    assert verdicts["fields"] is verdicts["login host reachable"] is verdicts["grant"] is Verdict.OK
    assert verdicts["clock"] is Verdict.OK
    live = sum(entry["live_access_tokens"] for entry in emulator.holdings()["by_user_app"])
    assert live == 0  # the probe's token was revoked again: Salesforce holds nothing


def test_clock_skew_against_salesforce_is_measured(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    emulator.advance_clock(600)  # Salesforce's clock runs 10 minutes ahead of ours
    result = diagnose(make_connection("jwt_bearer"), hook=hook_for(make_connection("jwt_bearer")))
    clock = next(check for check in result.checks if check.name == "clock")
    assert clock.verdict is Verdict.FAIL and "behind" in clock.message


def test_a_wrong_certificate_is_named(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("jwt_bearer")
    _key, other_cert = generate_jwt_key_pair("someone else")
    verdicts = _verdicts(conn_id, certificate_pem=other_cert)
    assert verdicts["certificate"] is Verdict.FAIL
    assert _verdicts(conn_id, certificate_pem=emulator.jwt_certificate_pem)["certificate"] is Verdict.OK


def test_web_flow_callback_and_stored_token(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    conn_id = make_connection("authorization_code")
    assert _verdicts(conn_id)["stored token"] is Verdict.WARN  # not set up yet
    set_up_web_flow(emulator, actions_for(conn_id))
    verdicts = _verdicts(conn_id)
    assert verdicts["callback URL"] is Verdict.OK
    assert verdicts["scopes"] is Verdict.OK and verdicts["refresh token"] is Verdict.OK
    assert verdicts["grant"] is Verdict.SKIP  # a refresh token is never redeemed to diagnose
    unknown_callback = make_connection("authorization_code", conn_id="sf360_other_cb",
                                       callback_url="http://localhost:9/not-registered")
    assert _verdicts(unknown_callback)["callback URL"] is Verdict.FAIL
