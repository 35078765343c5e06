"""The "Salesforce 360" page with a fleet of 500 sf360 connections: server render, browser render and search.

Creates 500 connections in a throwaway Airflow home (SQLite, Fernet key): a third with a stored token, some with a
last test, some invalid, some sharing one credential, plus orphaned token state. Prints:

- reading the fleet: one hook per connection (the old page's way) vs ``store.connections.read_fleet()``;
- the page's server time through a real ``airflow api-server`` (``GET /sf360/``, median of several);
- in Debian's Chromium (Playwright, when /usr/bin/chromium exists): page load, rows visible at 1280 x 800, and
  the time from typing into the search box to the filtered table.

Run: ``.venv/bin/python bench/page_render.py [--connections 500] [--no-browser]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._env import cleanup, migrate_db, prepare_airflow_home

CHROMIUM = "/usr/bin/chromium"
BASE_ORG = "00D5e000000Ab"
BASE_USER = "0055e000001Xy"


def _suffix(index: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return alphabet[index // len(alphabet) % len(alphabet)] + alphabet[index % len(alphabet)]


def create_fleet(count: int) -> dict[str, int]:
    """``count`` connections and their token state through the ORM (one transaction)."""
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    from airflow_provider_sf360.core.credentials import credentials_from_connection_fields
    from airflow_provider_sf360.core.ids import to18
    from airflow_provider_sf360.core.state_keys import token_key
    from airflow_provider_sf360.core.token_state import TokenLink, TokenState, TokenStatus
    from airflow_provider_sf360.settings import provider_settings

    now = time.time()
    last_state: TokenState | None = None
    kinds = {"active": 0, "not_set_up": 0, "invalid": 0, "shared": 0, "orphaned": 0, "expired": 0}
    with create_session() as session:
        for index in range(count):
            org, user = to18(BASE_ORG + _suffix(index)), to18(BASE_USER + _suffix(index))
            shares = index % 50 == 7 and (index - 1) % 3 == 0  # uses the previous connection's token, shared
            owner = _suffix(index - 1) if shares else _suffix(index)
            org, user = to18(BASE_ORG + owner), to18(BASE_USER + owner)
            extra = {"org_id": org, "user_id": user, "auth_flow": "client_credentials",
                     "login_url": f"https://acme{index - 1 if shares else index}.my.salesforce.com"}
            if index % 50 == 9:
                extra["org_id"] = "not-an-org-id"
                kinds["invalid"] += 1
            conn_id = f"sf360_org_{index:04d}"
            session.add(Connection(conn_id=conn_id, conn_type="sf360",
                                   login=f"3MVG9key{index - 1 if shares else index}",
                                   password=secrets.token_urlsafe(24), extra=json.dumps(extra)))
            if shares:  # explicit sharing: a link here, and the owner's state lists this connection
                previous = f"sf360_org_{index - 1:04d}"
                assert last_state is not None
                Variable.set(token_key(conn_id), TokenLink(previous).to_json(), session=session)
                Variable.set(token_key(previous), replace(last_state, shared_with=(conn_id,)).to_json(),
                             session=session)
                kinds["shared"] += 1
                continue
            if index % 3 or extra["org_id"] == "not-an-org-id":
                kinds["not_set_up"] += index % 50 != 9
                continue
            creds = credentials_from_connection_fields(conn_id, extra, f"3MVG9key{index}", "x", provider_settings())
            expired = index % 30 == 0
            kinds["expired" if expired else "active"] += 1
            state = TokenState(
                status=TokenStatus.ACTIVE, access_token=secrets.token_urlsafe(40), instance_url=extra["login_url"],
                identity_url=f"https://login.salesforce.com/id/{org}/{user}", org_id=org, user_id=user,
                auth_flow="client_credentials", issued_at=now - 600, expires_at=now - 1 if expired else now + 6600,
                username=f"integration{index}@acme.example", set_up_at=now - 3600, set_up_by="admin",
            )
            Variable.set(creds.state_key, state.to_json(), session=session)
            last_state = state
            if index % 2 == 0:
                record = {"ok": True, "message": "Access test succeeded", "tested_at": now - 60}
                Variable.set(creds.state_key.replace("sf360_token__", "sf360_status__"), json.dumps(record),
                             session=session)
        for index in range(3):  # orphaned token state: its connections were deleted
            org, user = to18(BASE_ORG + "z" + str(index)), to18(BASE_USER + "z" + str(index))
            state = TokenState(
                status=TokenStatus.ACTIVE, access_token="x" * 40, instance_url="https://gone.my.salesforce.com",
                identity_url="", org_id=org, user_id=user, auth_flow="client_credentials", issued_at=now,
                expires_at=now + 3600,
            )
            gone = f"sf360_deleted_{index:04d}"
            Variable.set(token_key(gone), replace(state, set_up_for=gone).to_json(), session=session)
            kinds["orphaned"] += 1
    return kinds


def _timed(func: Any, repeat: int) -> tuple[float, Any]:
    """Median milliseconds over ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def in_process_figures() -> list[tuple[str, str]]:
    from airflow_provider_sf360.hooks.sf360 import SF360Hook
    from airflow_provider_sf360.plugins import web
    from airflow_provider_sf360.store import connections

    def one_hook_per_connection() -> list[str]:
        statuses = []
        for conn_id in connections.list_conn_ids():
            try:
                statuses.append(str(SF360Hook(conn_id).status()["status"]))
            except Exception:
                statuses.append("invalid")
        return statuses

    figures = []
    per_hook_ms, old_rows = _timed(one_hook_per_connection, 3)
    figures.append(("fleet read, one hook per connection (old page)", f"{per_hook_ms:.0f} ms"))
    cold_ms, fleet = _timed(connections.read_fleet, 1)
    figures.append(("fleet read, read_fleet(), first call (decrypts and validates all)", f"{cold_ms:.0f} ms"))
    fleet_ms, fleet = _timed(connections.read_fleet, 5)
    figures.append(("fleet read, read_fleet(), next calls (2 queries, cached)", f"{fleet_ms:.0f} ms"))
    statuses: dict[str, int] = {}
    for row in fleet.rows:
        statuses[row.status_name] = statuses.get(row.status_name, 0) + 1
    statuses["orphaned"] = len(fleet.orphans)
    figures.append(("rows by status", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))))
    same = sum(1 for a, b in zip(old_rows, fleet.rows, strict=True) if a == b.status_name)
    figures.append(("rows where both reads agree on the status", f"{same} of {len(fleet.rows)}"))
    template = web.templates.get_template("page.html")

    def render() -> str:
        return template.render(
            title="Salesforce 360", static="/sf360/static", rows=fleet.rows, orphans=fleet.orphans,
            editable={r.conn_id for r in fleet.rows}, statuses=connections.STATUSES, callback_url="x", csrf="t",
            flash=None, signin_done=False, connections_url="/connections", base="/sf360", page_size=50,
            concurrency=4,
        )

    render_ms, html = _timed(render, 5)
    figures.append(("template render (Jinja2, autoescape)", f"{render_ms:.0f} ms, {len(html) // 1024} KiB"))
    return figures


# ------------------------------------------------------------------ a real api-server and browser
def _api_server_env() -> dict[str, str]:
    return {**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(24), "_AIRFLOW_PROCESS_CONTEXT": "server"}


def server_figures(url: str, token: str, repeat: int = 7) -> list[tuple[str, str]]:
    import requests

    http = requests.Session()
    http.cookies.set("_token", token, domain="127.0.0.1", path="/")
    start = time.perf_counter()
    http.get(f"{url}/sf360/", timeout=60)  # first request: imports, template compile, decrypt + validate all
    first_ms = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = http.get(f"{url}/sf360/", timeout=60)
        times.append((time.perf_counter() - start) * 1000)
        answer.raise_for_status()
    return [("GET /sf360/, first request after the api-server started", f"{first_ms:.0f} ms"),
            (f"GET /sf360/ through the api-server (median of {repeat})", f"{statistics.median(times):.0f} ms"),
            ("GET /sf360/ slowest", f"{max(times):.0f} ms")]


def browser_figures(url: str, token: str) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    figures = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies([{"name": "_token", "value": token, "url": url}])
        page = context.new_page()
        page.goto(f"{url}/sf360/")  # warm-up: cache of CSS/JS
        loads, scripted = [], []
        for _ in range(3):
            page.goto(f"{url}/sf360/", wait_until="load")
            page.wait_for_selector("#count:not(:empty)")
            timing = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                                   " return [n.loadEventEnd, n.domContentLoadedEventEnd]; })()")
            loads.append(timing[0])
            scripted.append(timing[1])
        figures.append(("browser: standalone page, navigation start to load event (median of 3)",
                        f"{statistics.median(loads):.0f} ms"))
        figures.append(("browser: standalone page, to DOMContentLoaded (table scripted)",
                        f"{statistics.median(scripted):.0f} ms"))
        visible = page.evaluate(
            "Array.from(document.querySelectorAll('#fleet tbody tr')).filter(tr => {"
            "const r = tr.getBoundingClientRect(); return !tr.hidden && r.top >= 0 && r.bottom <= innerHeight}).length"
        )
        figures.append(("browser: rows fully visible at 1280 x 800 (standalone)", str(visible)))
        searches = []
        for term in ("org_0123", "integration42", "00d5e000000ab", "zzz-nothing"):
            ms = page.evaluate(
                "(term) => { const q = document.getElementById('q'); const t0 = performance.now();"
                " q.value = term; q.dispatchEvent(new Event('input')); document.body.offsetHeight;"
                " return performance.now() - t0 }", term)
            searches.append(ms)
        figures.append(("browser: search, input to filtered table (worst of 4)", f"{max(searches):.1f} ms"))
        start = time.perf_counter()
        page.goto(f"{url}/plugin/sf360")
        frame = page.frame_locator("iframe[title='Salesforce 360']")
        frame.locator("#count:not(:empty)").wait_for(timeout=60_000)
        figures.append(("browser: inside Airflow's UI (/plugin/sf360, cold React app + iframe)",
                        f"{(time.perf_counter() - start) * 1000:.0f} ms"))
        visible = frame.locator("body").evaluate(
            "b => Array.from(b.querySelectorAll('#fleet tbody tr')).filter(tr => {"
            "const r = tr.getBoundingClientRect(); return !tr.hidden && r.top >= 0 && r.bottom <= innerHeight}).length"
        )
        figures.append(("browser: rows fully visible at 1280 x 800 inside Airflow's UI", str(visible)))
        browser.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    home = prepare_airflow_home()
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin"
    try:
        migrate_db()
        kinds = create_fleet(args.connections)
        print(f"{args.connections} sf360 connections: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
        figures = in_process_figures()
        for name, value in figures:
            print(f"{name}: {value}", flush=True)
        from airflow_provider_sf360.testing.api_server import running_api_server

        try:
            with running_api_server(_api_server_env(), home / "api-server.log") as url:
                import requests

                passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
                token = requests.post(f"{url}/auth/token",
                                      json={"username": "admin", "password": passwords["admin"]},
                                      timeout=30).json()["access_token"]
                figures += server_figures(url, token)
                if not args.no_browser and Path(CHROMIUM).exists():
                    figures += browser_figures(url, token)
        except Exception:
            print((home / "api-server.log").read_text()[-3000:], file=sys.stderr)
            raise
        width = max(len(name) for name, _ in figures)
        for name, value in figures:
            print(f"{name.ljust(width)}  {value}")
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
