"""The provider as Airflow sees it: registration, connection form metadata, a CLI-made connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from airflow_provider_sf360 import __version__
from airflow_provider_sf360.get_provider_info import get_provider_info

HEAVY_MODULES = ("simple_salesforce", "requests_oauthlib", "oauthlib", "jwt", "zeep", "pandas")


def _airflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run([str(airflow), *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})}, check=False)


def test_provider_info_passes_airflow_schema() -> None:
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_conn_fields_pass_the_provider_yaml_schema() -> None:
    import airflow

    path = Path(airflow.__file__).parent / "provider.yaml.schema.json"
    if not path.exists():
        pytest.skip("provider.yaml.schema.json is not shipped in this Airflow wheel")
    full = json.loads(path.read_text())
    item_schema = full["properties"]["connection-types"]["items"]
    for conn_type in get_provider_info()["connection-types"]:
        jsonschema.validate(conn_type, {**item_schema, "definitions": full.get("definitions", {})})


@pytest.mark.slow  # the airflow CLI in a subprocess
def test_provider_is_listed_by_airflow() -> None:
    result = _airflow("providers", "list", "-o", "json")
    assert result.returncode == 0, result.stderr
    listing = result.stdout[result.stdout.index("[{"):]  # skip log lines printed before the JSON
    names = {p["package_name"]: p for p in json.loads(listing)}
    assert names["airflow-provider-sf360"]["version"] == __version__  # the one version source


def test_connection_form_metadata() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = next(m for m in HookMetaService.hook_meta_data() if m.connection_type == "sf360")
    assert meta.hook_name == "Salesforce 360 (OAuth)"
    assert meta.hook_class_name == "airflow_provider_sf360.hooks.sf360.SF360Hook"
    standard = meta.model_dump()["standard_fields"]
    assert standard["host"]["hidden"] and standard["url_schema"]["hidden"]
    # Port is shown only to carry the Airflow 3.3.2 Test-button workaround (enter 0); its label says so.
    assert not standard["port"]["hidden"] and "enter 0" in standard["port"]["title"]
    assert standard["login"]["title"] == "Consumer Key"
    assert standard["password"]["title"] == "Consumer Secret"
    extra = meta.model_dump()["extra_fields"]
    assert extra["org_id"]["schema"]["title"] == "Salesforce Org ID"
    assert extra["org_id"]["schema"]["type"] == "string"  # required in the form
    assert extra["is_sandbox"]["schema"]["type"] == "boolean"
    assert extra["is_sandbox"]["value"] is False
    assert extra["auth_flow"]["schema"]["enum"] == ["authorization_code", "jwt_bearer", "client_credentials",
                                                   "refresh_token"]
    assert extra["refresh_token"]["schema"]["format"] == "password"
    assert extra["private_key"]["schema"]["format"] == "multiline"
    assert all(field.get("description") for field in extra.values())


def test_secret_extras_are_redacted_by_name() -> None:
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key

    for key in ("private_key", "refresh_token", "password"):
        assert should_hide_value_for_key(key), key


@pytest.mark.slow  # the airflow CLI in a subprocess
def test_connection_added_with_the_cli_reads_back(airflow_db: Path) -> None:
    extra = {"org_id": "00d5e000000abcdeak", "user_id": "0055e000001XyZa", "is_sandbox": True,
             "auth_flow": "refresh_token", "refresh_token": "5Aep861SEED"}
    result = _airflow("connections", "add", "sf360_cli_made", "--conn-type", "sf360", "--conn-login", "3MVGkey",
                      "--conn-extra", json.dumps(extra))
    assert result.returncode == 0, result.stderr

    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    creds = SF360Hook("sf360_cli_made").credentials  # outside a task: read from the metadata DB
    assert creds.org_id == "00D5e000000AbCdEAK"
    assert creds.user_id == "0055e000001XyZaAAK"
    assert creds.is_sandbox and creds.login_url == "https://test.salesforce.com"
    assert creds.auth_flow.value == "refresh_token"


def test_bad_connection_names_each_field(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_sf360.exceptions import CredentialsInvalidError
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    monkeypatch.setenv("AIRFLOW_CONN_SF_BAD", json.dumps({"conn_type": "sf360", "extra": {
        "org_id": "0055e000001XyZa", "login_url": "http://evil.example.com"}}))
    with pytest.raises(CredentialsInvalidError) as err:
        _ = SF360Hook("sf_bad").credentials
    assert isinstance(err.value, AirflowFailException)  # a person must fix it: no retries
    text = str(err.value)
    for label in ("Salesforce Org ID", "Salesforce User ID", "Consumer Key", "Login URL (My Domain)"):
        assert label in text


@pytest.mark.parametrize("module", [
    pytest.param("airflow_provider_sf360.hooks.sf360", marks=pytest.mark.slow),  # imports Airflow: ~1.5 s
    pytest.param("airflow_provider_sf360.operators.oauth", marks=pytest.mark.slow),
    "airflow_provider_sf360.get_provider_info",
    "airflow_provider_sf360.core.credentials",
])
def test_importing_the_provider_stays_light(module: str) -> None:
    code = f"import sys, {module}; print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_core_imports_no_airflow() -> None:
    code = ("import sys; import airflow_provider_sf360.core.lifecycle, airflow_provider_sf360.core.oauth_client, "
            "airflow_provider_sf360.core.salesforce_session; print(sorted(m for m in sys.modules "
            "if m == 'airflow' or m.startswith('airflow.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]"
