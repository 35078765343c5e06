"""Browser tests (Playwright + Debian's Chromium) against a real api-server and the Salesforce emulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_sf360.testing import DEFAULT_ORG_ID, DEFAULT_USER_ID, DEFAULT_USERNAME, SalesforceEmulator
from tests.helpers.api_server import ApiServer
from tests.helpers.connections import ConnFactory, stored_connection

from .fleet_helpers import set_up_headless

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def _row(page: Any, conn_id: str) -> Any:
    return page.locator(f'tr[data-conn-id="{conn_id}"]')


def _status(page: Any, conn_id: str) -> str:
    return str(_row(page, conn_id).locator('[data-field="status"]').inner_text())


def _flash(page: Any) -> str:
    return str(page.get_by_test_id("flash").inner_text())


def _sign_in_at_salesforce(page: Any, allow: bool = True) -> None:
    """The emulator's login and consent pages, as a person would use them (keyboard only)."""
    page.wait_for_url(re.compile(r"https://127\.0\.0\.1:\d+/services/oauth2/authorize.*"))
    page.locator("#username").fill(DEFAULT_USERNAME)
    page.locator("#username").press("Enter")
    button = page.get_by_role("button", name="Allow" if allow else "Deny")
    button.focus()
    page.keyboard.press("Enter")


def test_connection_form_shows_sf360_fields(admin_page: Any, api_server: ApiServer, artifacts_dir: Path) -> None:
    try:
        _check_connection_form(admin_page, api_server, artifacts_dir)
    except Exception:
        admin_page.screenshot(path=str(artifacts_dir / "connection-form-failure.png"), full_page=True)
        raise


def _check_connection_form(page: Any, api_server: ApiServer, artifacts_dir: Path) -> None:
    page.set_default_timeout(45_000)  # the first load of the React UI in a session can be slow
    page.goto(f"{api_server.url}/connections")
    page.wait_for_load_state("networkidle")
    # The plugin's external view: "Salesforce 360" in the Admin menu of the navigation.
    page.get_by_role("button", name="Admin").click()
    entry = page.get_by_role("menuitem", name="Salesforce 360")
    assert entry.is_visible()
    assert entry.get_attribute("href") == "/plugin/sf360"  # url_route: the page inside Airflow's UI
    page.keyboard.press("Escape")
    page.get_by_role("button", name=re.compile("Add Connection", re.I)).click()
    page.get_by_role("combobox").first.click()
    page.keyboard.type("Salesforce 360")
    page.get_by_role("option", name=re.compile("Salesforce 360")).first.click()
    page.get_by_role("textbox").first.fill("sf360_default")

    page.get_by_text("Standard Fields", exact=True).first.click()
    for label in ("Consumer Key", "Consumer Secret"):
        page.locator("label").filter(has_text=re.compile(f"^{label}")).first.wait_for()
    assert page.locator('input[type="password"]').count() >= 1  # Consumer Secret is masked
    page.get_by_text("Standard Fields", exact=True).first.click()

    page.get_by_text("Extra Fields", exact=True).first.click()
    for label in ("Salesforce Org ID", "Salesforce User ID", "Use salesforce.com Sandbox", "OAuth flow",
                  "Refresh Token", "Callback URL"):
        page.locator("label").filter(has_text=re.compile(f"^{label}")).first.wait_for()
    assert page.locator('input[type="password"]').count() >= 1  # Refresh Token is masked
    assert page.locator('input[type="checkbox"]').count() >= 1  # the Sandbox switch
    assert page.get_by_text("authorization_code").first.is_visible()  # the flow dropdown's default
    for label, value in (("Salesforce Org ID", DEFAULT_ORG_ID), ("Salesforce User ID", DEFAULT_USER_ID)):
        caption = page.locator("label").filter(has_text=re.compile(f"^{label}")).first
        caption.locator("xpath=ancestor::*[.//input][1]").locator("input").first.fill(value)
    # animations="disabled" finishes the accordion's animation first (no fixed wait)
    page.screenshot(path=str(artifacts_dir / "connection-form.png"), full_page=True,  # README: docs/img copies
                    animations="disabled")


def test_round_trip(
    admin_page: Any, api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator,
    artifacts_dir: Path,
) -> None:
    conn_id = make_connection("sf360_ui_round")
    page = admin_page
    page.goto(f"{api_server.url}/sf360/")
    assert _status(page, conn_id) == "not set up"
    assert page.get_by_test_id("callback-url").inner_text() == api_server.callback_url()

    # Set up -> Salesforce login/consent -> Allow -> back on the page, active.
    _row(page, conn_id).get_by_role("button", name="Set up", exact=True).click()
    _sign_in_at_salesforce(page, allow=True)
    page.wait_for_url(f"{api_server.url}/sf360/")
    assert "is set up for org" in _flash(page)
    assert _status(page, conn_id) == "active"
    assert DEFAULT_ORG_ID in _row(page, conn_id).inner_text()

    # Test Access (keyboard only): success with org and user.
    _row(page, conn_id).get_by_role("button", name="Test", exact=True).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Access test succeeded" in _flash(page)
    assert DEFAULT_ORG_ID in _flash(page) and DEFAULT_USERNAME in _flash(page)
    assert "succeeded" in _row(page, conn_id).locator('[data-field="last_test"]').inner_text()
    page.screenshot(path=str(artifacts_dir / "sf360-page.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.reload()
    page.screenshot(path=str(artifacts_dir / "sf360-page-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")

    # Reset: not set up, every field intact.
    before = stored_connection(conn_id)
    with page.expect_navigation():
        _row(page, conn_id).get_by_role("button", name="Reset", exact=True).click()
    assert "every connection field is kept" in _flash(page)
    assert _status(page, conn_id) == "not set up"
    assert stored_connection(conn_id) == before

    # Set up again, then Delete (with confirmation).
    _row(page, conn_id).get_by_role("button", name="Set up", exact=True).click()
    _sign_in_at_salesforce(page, allow=True)
    page.wait_for_url(f"{api_server.url}/sf360/")
    assert _status(page, conn_id) == "active"
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    state = SF360Hook(conn_id).lifecycle.store.load()
    assert state is not None
    access_token, instance_url = state.access_token, state.instance_url

    _row(page, conn_id).get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete permanently").click()
    page.wait_for_url(f"{api_server.url}/sf360/")
    assert "Secret fields removed from the connection: Consumer Secret" in _flash(page)
    assert _status(page, conn_id) == "not set up"

    # The token is dead at the emulator and the secret fields are gone.
    answer = requests.get(
        f"{instance_url}/services/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"},
        verify=emu.ca_bundle, timeout=30,
    )
    assert answer.status_code == 401
    stored = stored_connection(conn_id)
    assert stored["password"] is None
    assert "private_key" not in stored["extra"] and "refresh_token" not in stored["extra"]
    assert stored["extra"]["org_id"] == DEFAULT_ORG_ID and stored["extra"]["user_id"] == DEFAULT_USER_ID
    assert access_token not in page.content()


def test_deny_on_consent_page(
    admin_page: Any, api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator
) -> None:
    conn_id = make_connection("sf360_ui_deny")
    page = admin_page
    page.goto(f"{api_server.url}/sf360/")
    _row(page, conn_id).get_by_role("button", name="Set up", exact=True).click()
    _sign_in_at_salesforce(page, allow=False)
    page.wait_for_url(f"{api_server.url}/sf360/")
    assert "did not authorize" in _flash(page) and "access_denied" in _flash(page)
    assert _status(page, conn_id) == "not set up"


def test_forged_state_in_browser(
    admin_page: Any, api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator
) -> None:
    conn_id = make_connection("sf360_ui_forged")
    page = admin_page
    page.goto(f"{api_server.url}/sf360/callback?code=stolen&state=eyJjIjoic2YzNjBfdWlfZm9yZ2VkIn0.AAAA")
    page.wait_for_url(f"{api_server.url}/sf360/")
    assert "Setup refused" in _flash(page)
    assert _status(page, conn_id) == "not set up"


def test_viewer_and_anonymous_in_browser(browser: Any, api_server: ApiServer, make_connection: ConnFactory) -> None:
    make_connection("sf360_ui_viewer")
    context = browser.new_context()
    page = context.new_page()
    answer = page.goto(f"{api_server.url}/sf360/")
    assert answer is not None and answer.status == 401
    assert page.get_by_role("link", name="Sign in to Airflow").is_visible()
    context.add_cookies([{"name": "_token", "value": api_server.token("viewer"), "url": api_server.url}])
    answer = page.goto(f"{api_server.url}/sf360/")
    assert answer is not None and answer.status == 403
    context.close()


def test_test_button_of_connection_form(
    admin_page: Any, api_server: ApiServer, make_connection: ConnFactory, emu: SalesforceEmulator
) -> None:
    conn_id = make_connection("sf360_ui_testbtn")
    set_up_headless(emu, api_server.callback_url(), conn_id)

    page = admin_page
    page.goto(f"{api_server.url}/connections")
    row = page.get_by_role("row").filter(has_text=conn_id)
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as answer:
        row.get_by_role("button", name=re.compile("test", re.I)).click()
    body = answer.value.json()
    assert answer.value.status == 200 and body["status"] is True, body
    assert DEFAULT_ORG_ID in body["message"]
