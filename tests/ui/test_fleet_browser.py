"""The page inside Airflow's UI (``/plugin/sf360``, an iframe) in Debian's Chromium at 1280 x 800: navigation, the
Salesforce sign-in in a new tab, search, filter, sort, bulk Test access with progress, dark mode, keyboard use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sf360.testing import DEFAULT_USERNAME

from .fleet_helpers import forget_token_state, set_up_headless

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]
VIEWPORT = {"width": 1280, "height": 800}
FRAME = 'iframe[title="Salesforce 360"]'


@pytest.fixture
def ui_page(browser: Any, api_server: Any, emu: Any) -> Iterator[Any]:
    """Airflow's UI at 1280 x 800, signed in as admin."""
    context = browser.new_context(ignore_https_errors=True, viewport=VIEWPORT)
    context.add_cookies([{"name": "_token", "value": api_server.token("admin"), "url": api_server.url}])
    page = context.new_page()
    page.set_default_timeout(45_000)  # the first load of the React UI in a session can be slow
    yield page
    context.close()


def _open_from_navigation(page: Any, api_server: Any) -> Any:
    page.goto(f"{api_server.url}/")
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Salesforce 360").click()
    page.wait_for_url(re.compile(r".*/plugin/sf360.*"))
    frame = page.frame_locator(FRAME)
    frame.locator("#count").filter(has_text=re.compile(r"\d")).wait_for()
    return frame


def _row(frame: Any, conn_id: str) -> Any:
    return frame.locator(f'tr[data-conn-id="{conn_id}"]')


def _status(frame: Any, conn_id: str) -> str:
    return str(_row(frame, conn_id).locator('[data-field="status"]').inner_text())


def _visible_rows(frame: Any) -> int:
    return int(frame.locator("body").evaluate(
        "b => Array.from(b.querySelectorAll('#fleet tbody tr')).filter(tr => { const r = tr.getBoundingClientRect();"
        " return !tr.hidden && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight }).length"
    ))


def test_sign_in_round_trip_in_a_new_tab(
    ui_page: Any, api_server: Any, make_connection: Any, emu: Any, artifacts_dir: Path
) -> None:
    conn_id = make_connection("sf360_uif_round")
    forget_token_state(conn_id)  # earlier tests may leave a token for the emulator's default credential
    page = ui_page
    frame = _open_from_navigation(page, api_server)
    assert _status(frame, conn_id) == "not set up"
    with page.context.expect_page() as new_tab:
        _row(frame, conn_id).get_by_role("button", name="Set up", exact=True).click()
    tab = new_tab.value  # Salesforce refuses frames: the sign-in runs in a tab of its own
    tab.wait_for_url(re.compile(r"https://127\.0\.0\.1:\d+/services/oauth2/authorize.*"))
    tab.locator("#username").fill(DEFAULT_USERNAME)
    tab.locator("#username").press("Enter")
    tab.get_by_role("button", name="Allow").click()
    tab.wait_for_url(f"{api_server.url}/sf360/")
    assert "is set up for org" in tab.get_by_test_id("flash").inner_text()
    # The page inside Airflow hears about it and updates the row.
    frame.locator(f'tr[data-conn-id="{conn_id}"] [data-field="status"]').filter(has_text="active").wait_for()
    assert "is set up for org" in frame.get_by_test_id("flash").inner_text()
    assert page.url.startswith(f"{api_server.url}/plugin/sf360")  # still inside Airflow's UI
    tab.close()


def test_fleet_search_filter_sort_bulk_test_keyboard_and_dark_mode(
    ui_page: Any, api_server: Any, make_connection: Any, emu: Any, artifacts_dir: Path
) -> None:
    from airflow_provider_sf360.core.ids import to18
    from airflow_provider_sf360.service import SF360Actions

    # Three connections of the emulator's user (one token, shared explicitly with the other two) and fifteen of
    # other orgs, not set up.
    ids = [make_connection(f"sf360_uif_bulk_{index:02d}") for index in range(3)]
    ids += [make_connection(f"sf360_uif_bulk_{index:02d}", org_id=to18(f"00D5e000000Zz{index:02d}"),
                            user_id=to18(f"0055e000001Zz{index:02d}")) for index in range(3, 18)]
    set_up_headless(emu, api_server.callback_url(), ids[0])
    for shared in ids[1:3]:
        assert SF360Actions(ids[0]).share_with(shared).ok
    make_connection("sf360_uif_broken", org_id="not-an-org-id")
    page = ui_page
    frame = _open_from_navigation(page, api_server)
    assert _visible_rows(frame) >= 15  # at 1280 x 800, inside Airflow's UI
    assert "invalid connection" in _row(frame, "sf360_uif_broken").inner_text()
    page.screenshot(path=str(artifacts_dir / "sf360-fleet.png"))

    # Keyboard: "/" jumps to the search box; typing filters at once; Escape clears.
    frame.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("/")
    search = frame.get_by_role("searchbox", name=re.compile("Search connections"))
    assert search.evaluate("e => e === document.activeElement")
    page.keyboard.type("bulk_01")
    assert frame.locator("#fleet tbody tr:not([hidden])").count() == 1
    assert _row(frame, ids[1]).is_visible()
    page.keyboard.press("Escape")
    assert frame.locator("#fleet tbody tr:not([hidden])").count() >= 15

    # From here on, only this test's rows: other modules' connections share the metadata DB.
    search.fill("sf360_uif")

    # Filter by status, then test every shown row with progress and a summary.
    frame.get_by_label("Filter by status").select_option("active")
    assert frame.locator("#fleet tbody tr:not([hidden])").count() == 3
    frame.get_by_role("button", name="Test all shown").click()
    summary = frame.locator("#bulk-text[data-done]")
    summary.wait_for()
    assert summary.inner_text() == "Tested 3: 3 succeeded, 0 failed."
    assert "succeeded" in _row(frame, ids[0]).locator('[data-field="last_test"]').inner_text()

    # Selected rows, picked with the keyboard (Space on a checkbox).
    frame.get_by_label("Filter by status").select_option("not_set_up")
    for conn_id in ids[5:7]:
        _row(frame, conn_id).get_by_role("checkbox").focus()
        page.keyboard.press("Space")
    frame.get_by_role("button", name="Test selected").click()
    frame.locator("#bulk-text[data-done]").filter(has_text="Tested 2").wait_for()
    assert frame.locator("#bulk-text").inner_text().startswith("Tested 2: 0 succeeded, 2 failed")

    # Sort by connection id, descending.
    frame.get_by_label("Filter by status").select_option("")
    frame.locator('button.sort[data-sort="id"]').click()
    frame.locator('button.sort[data-sort="id"]').click()
    assert frame.locator("#fleet tbody tr:not([hidden]) th").first.inner_text().startswith("sf360_uif_broken")
    frame.locator('button.sort[data-sort="id"]').click()
    page.screenshot(path=str(artifacts_dir / "sf360-fleet-tested.png"))

    # Dark mode follows Airflow's own color mode (next-themes' class on the parent's <html>).
    page.evaluate("localStorage.setItem('theme', 'dark')")
    page.reload()
    frame = page.frame_locator(FRAME)
    frame.locator("#count").filter(has_text=re.compile(r"\d")).wait_for()
    assert "dark" in (page.locator("html").get_attribute("class") or "")
    assert frame.locator("html").get_attribute("data-theme") == "dark"
    background = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(17, 17, 19)"
    page.screenshot(path=str(artifacts_dir / "sf360-fleet-dark.png"))
    page.evaluate("localStorage.setItem('theme', 'light')")


def test_diagnose_shows_each_check_under_the_flash(
    ui_page: Any, api_server: Any, make_connection: Any, emu: Any
) -> None:
    conn_id = make_connection("sf360_uif_diagnose")
    frame = _open_from_navigation(ui_page, api_server)
    _row(frame, conn_id).get_by_role("button", name="Diagnose").click()
    checks = frame.get_by_test_id("diagnosis")
    checks.wait_for()
    text = checks.inner_text()
    assert "OK callback URL" in text and "OK login host reachable" in text
    assert "WARN stored token: no OAuth token is set up yet. Fix: Set up the OAuth token" in text
    assert "Diagnosis: no problem found." in frame.get_by_test_id("flash").inner_text()
