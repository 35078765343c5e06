"""The plugin object: registration through the entry point, cheap import, the app under /sf360."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest


def test_registered_through_airflow_plugins_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="airflow.plugins") if e.name == "sf360"]
    plugin = entry.load()
    assert plugin.__name__ == "SF360Plugin" and plugin.name == "sf360"
    (view,) = plugin.external_views
    assert view["name"] == "Salesforce 360" and view["href"] == "/sf360/" and view["category"] == "admin"
    assert view["url_route"] == "sf360"  # rendered inside Airflow's UI at /plugin/sf360


@pytest.mark.slow  # a fresh interpreter
def test_import_is_cheap_and_app_is_built_lazily() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_sf360.plugins.sf360_ui as m\n"
        "heavy = [n for n in ('fastapi', 'airflow_provider_sf360.plugins.app', 'airflow_provider_sf360.hooks',"
        " 'simple_salesforce', 'requests_oauthlib') if n in sys.modules]\n"
        "assert not heavy, heavy\n"
        "apps = m.SF360Plugin().fastapi_apps\n"
        "assert apps[0]['url_prefix'] == '/sf360' and apps[0]['app'].__class__.__name__ == 'FastAPI'\n"
        "assert m.SF360Plugin.fastapi_apps is apps\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_oauth_state_is_signed_bound_and_expiring() -> None:
    import pytest

    from airflow_provider_sf360.service.oauth_state import InvalidStateError, make_state, read_state

    key = b"k" * 32
    state = make_state("conn_a", "alice", key=key)
    assert read_state(state, "alice", key=key).conn_id == "conn_a"
    with pytest.raises(InvalidStateError, match="another Airflow user"):
        read_state(state, "bob", key=key)
    with pytest.raises(InvalidStateError, match="not signed"):
        read_state(state, "alice", key=b"x" * 32)
    body, rest = state.split(".", 1)  # itsdangerous: payload.timestamp.signature
    with pytest.raises(InvalidStateError):
        read_state(body[:-2] + "AA." + rest, "alice", key=key)
    with pytest.raises(InvalidStateError, match="10 minutes"):
        read_state(make_state("conn_a", "alice", ttl=-1, key=key), "alice", key=key)


def test_csrf_token_is_bound_to_user_session_and_time() -> None:
    import time as clock

    from airflow_provider_sf360.service import oauth_state

    key = b"k" * 32
    token = oauth_state.csrf_token("1", "jwt-of-session-a", key=key)
    assert oauth_state.csrf_ok("1", token, "jwt-of-session-a", key=key)
    assert not oauth_state.csrf_ok("1", token, "jwt-of-session-b", key=key)  # a new sign-in: a new token
    assert not oauth_state.csrf_ok("2", token, "jwt-of-session-a", key=key)  # another user
    assert not oauth_state.csrf_ok("1", token, "jwt-of-session-a", key=b"x" * 32)
    assert not oauth_state.csrf_ok("1", None, "jwt-of-session-a", key=key)
    real_time = clock.time
    try:  # older than the window: refused
        clock.time = lambda: real_time() + oauth_state.CSRF_TTL_SECONDS + 5
        assert not oauth_state.csrf_ok("1", token, "jwt-of-session-a", key=key)
    finally:
        clock.time = real_time


def test_templates_autoescape() -> None:
    from airflow_provider_sf360.plugins.web import templates

    html = templates.get_template("error.html").render(
        title="<b>x</b>", static="/s", message="<script>alert(1)</script>", link_url="/", link_label="back"
    )
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
