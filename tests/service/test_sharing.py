"""Sharing a token on purpose: the owner's state lists the connection, the connection links to it; taking it back."""

from __future__ import annotations

import pytest

from airflow_provider_sf360.exceptions import NotSetUpError, PermanentError
from airflow_provider_sf360.testing import SalesforceEmulator
from tests.helpers.lifecycle import ConnFactory, actions_for, set_up_web_flow


def test_share_then_stop_sharing(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    owner = actions_for(make_connection("authorization_code", conn_id="sf360_owner"))
    target_id = make_connection("authorization_code", conn_id="sf360_target")
    set_up_web_flow(emulator, owner)
    approvals_before = sum(e["live_approvals"] for e in emulator.holdings()["by_user_app"])
    assert owner.share_with(target_id).ok
    target = actions_for(target_id)
    assert target.test_access().ok  # the owner's token: no second approval at Salesforce
    assert sum(e["live_approvals"] for e in emulator.holdings()["by_user_app"]) == approvals_before
    with pytest.raises(PermanentError, match="uses another connection's token"):
        target.share_with("sf360_owner")
    assert owner.stop_sharing(target_id).ok
    with pytest.raises(NotSetUpError):
        actions_for(target_id).hook.get_conn()
    assert owner.test_access().ok  # the owner keeps its token


def test_only_identical_credentials_share(emulator: SalesforceEmulator, make_connection: ConnFactory) -> None:
    owner = actions_for(make_connection("authorization_code", conn_id="sf360_owner"))
    other = make_connection("authorization_code", conn_id="sf360_other", user_id="0055e000001XyZbAAK")
    set_up_web_flow(emulator, owner)
    with pytest.raises(PermanentError, match="only identical credentials"):
        owner.share_with(other)
