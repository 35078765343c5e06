"""What Airflow 3.3.2's React connection form enforces of the ``conn-fields`` schemas, in Chromium.

Found by reading the 3.3.2 UI bundle (``airflow/ui/dist``: the FlexibleForm string field passes only
``schema.minLength``/``schema.maxLength`` to the ``<input>``; a field whose ``type`` has no ``"null"`` is
required) and checked here in a real browser against a real ``airflow api-server``:

- required (a non-null ``type``): enforced, Save is disabled and "This field is required" is shown;
- ``maxLength``: enforced, the input takes no more characters;
- ``minLength``: not enforced: the input knows it is too short (``validity.tooShort``) but is not inside a
  ``<form>``, so Save stores it;
- ``pattern``: not passed to the input at all, so not enforced.

The schemas carry all four (an Airflow release that enforces them needs no provider change); what 3.3.2 lets
through is reported by the provider, naming the field, before any network call.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from airflow_provider_sf360.core.credentials import credentials_from_connection_fields
from airflow_provider_sf360.core.errors import CredentialsInvalidError
from airflow_provider_sf360.core.hosts import ProviderSettings
from tests.helpers.waiting import wait_for

from .form_server import FormServer, form_page, form_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # an api-server
USER_ID = "0055e000001XyZa"


def _open_form(page: Any, server: FormServer, conn_id: str) -> None:
    page.goto(f"{server.url}/connections")
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name=re.compile("Add Connection", re.I)).click()
    page.get_by_role("combobox").first.click()
    page.keyboard.type("Salesforce 360")
    page.get_by_role("option", name=re.compile("Salesforce 360")).first.click()
    page.get_by_role("textbox").first.fill(conn_id)
    page.get_by_text("Extra Fields", exact=True).first.click()


def _input(page: Any, label: str) -> Any:
    caption = page.locator("label").filter(has_text=re.compile(f"^{label}")).first
    return caption.locator("xpath=ancestor::*[.//input][1]").locator("input").first


def _save_button(page: Any) -> Any:
    return page.get_by_role("button", name=re.compile("^Save", re.I))


def test_schemas_reach_the_form(form_server: FormServer) -> None:  # noqa: F811
    answer = requests.get(f"{form_server.url}/ui/connections/hook_meta",
                          headers={"Authorization": f"Bearer {form_server.admin_token}"}, timeout=30)
    sf360 = next(item for item in answer.json() if item["connection_type"] == "sf360")
    fields = sf360["extra_fields"]
    org = fields["org_id"]["schema"]
    assert (org["minLength"], org["maxLength"]) == (15, 18) and org["pattern"].startswith("^00D")
    assert fields["user_id"]["schema"]["pattern"].startswith("^005")
    assert fields["private_key"]["schema"]["maxLength"] == 16 * 1024


@pytest.mark.browser
def test_required_and_max_length_are_enforced(form_page: Any, form_server: FormServer) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page, conn_id = form_page, "sf360_form_required"
    form_server.delete(conn_id)
    _open_form(page, form_server, conn_id)
    _input(page, "Salesforce User ID").fill(USER_ID)
    org = _input(page, "Salesforce Org ID")
    org.press_sequentially("00D5e000000AbCdEAKandmore")
    assert org.input_value() == "00D5e000000AbCdEAK"  # maxLength: nothing past 18 characters
    org.fill("")
    expect(_save_button(page)).to_be_disabled()  # waits for the form to validate
    expect(page.get_by_text("This field is required").first).to_be_visible()
    assert form_server.connection(conn_id) is None


@pytest.mark.browser
@pytest.mark.parametrize(
    ("org_id", "problem"),
    [
        ("00D5e", "it has 5 characters"),  # too short: minLength not enforced by 3.3.2
        ("0055e000001XyZa", "looks like a User ID"),  # wrong prefix: pattern not enforced by 3.3.2
        ("00D5e000000AbCdE", "it has 16 characters"),
    ],
)
def test_what_3_3_2_lets_through_is_named_by_the_provider(
    form_page: Any, form_server: FormServer, org_id: str, problem: str  # noqa: F811
) -> None:
    page, conn_id = form_page, f"sf360_form_{len(org_id)}_{org_id[:3].lower()}"
    form_server.delete(conn_id)
    _open_form(page, form_server, conn_id)
    _input(page, "Salesforce User ID").fill(USER_ID)
    org = _input(page, "Salesforce Org ID")
    org.fill(org_id)
    if len(org_id) < 15:
        assert org.evaluate("e => e.validity.tooShort")  # the browser knows ...
    _save_button(page).click()
    stored = wait_for(lambda: form_server.connection(conn_id))  # ... but 3.3.2 saves it (the input is not in a <form>)
    extra = json.loads(stored["extra"])
    with pytest.raises(CredentialsInvalidError) as err:
        credentials_from_connection_fields(conn_id, extra, "3MVGkey", None, ProviderSettings())
    assert f"Salesforce Org ID: '{org_id}'" in str(err.value) and problem in str(err.value)
    form_server.delete(conn_id)
