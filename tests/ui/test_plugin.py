"""The plugin object: registration through the entry point, cheap import, the app under /sf360."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points


def test_registered_through_airflow_plugins_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="airflow.plugins") if e.name == "sf360"]
    plugin = entry.load()
    assert plugin.__name__ == "SF360Plugin" and plugin.name == "sf360"
    (view,) = plugin.external_views
    assert view["name"] == "Salesforce 360" and view["href"] == "/sf360/" and view["category"] == "admin"


def test_import_is_cheap_and_app_is_built_lazily() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_sf360.plugins.sf360_ui as m\n"
        "heavy = [n for n in ('fastapi', 'airflow_provider_sf360.plugins.routes', 'airflow_provider_sf360.hooks',"
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

    from airflow_provider_sf360.plugins.oauth_state import InvalidStateError, make_state, read_state

    key = b"k" * 32
    state = make_state("conn_a", "alice", key=key)
    assert read_state(state, "alice", key=key).conn_id == "conn_a"
    with pytest.raises(InvalidStateError, match="another Airflow user"):
        read_state(state, "bob", key=key)
    with pytest.raises(InvalidStateError, match="not signed"):
        read_state(state, "alice", key=b"x" * 32)
    body, mac = state.split(".")
    with pytest.raises(InvalidStateError):
        read_state(body[:-2] + "AA." + mac, "alice", key=key)
    with pytest.raises(InvalidStateError, match="10 minutes"):
        read_state(make_state("conn_a", "alice", ttl=-1, key=key), "alice", key=key)
