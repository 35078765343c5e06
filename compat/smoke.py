"""Smoke checks of the *installed* provider, run by compat/wheel_smoke.sh in a clean venv per Airflow release.

Run it with the venv's Python from a directory outside the checkout (``python /path/to/compat/smoke.py``): the
provider must come from the built wheel, never from the repository. Files of the checkout are only passed by
path (example DAGs, scripts/demo.py). Checks, in a fresh Airflow home:

1. the provider is imported from site-packages, with the wheel's version;
2. registration: ``airflow providers list`` shows it and ``get_provider_info()`` passes Airflow's schema;
3. the connection form metadata (ProvidersManager widgets and the UI's ``HookMetaService``), and the
   Salesforce 360 page (``airflow plugins`` lists it; its templates load from the wheel);
4. ``python -m airflow_provider_sf360.testing serve`` starts, answers its control API, and stops;
5. a ``dag.test()`` of the connectivity-check DAG against the emulator;
6. the lifecycle ``make demo`` runs (``scripts/demo.py``) in its own process.

Prints one line per check; exit 0 on success.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DIST_NAME = "airflow-provider-sf360"
SERVE_TIMEOUT_SECONDS = 60


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'PASS' if ok else 'FAIL'}: {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        raise SystemExit(1)


def check_installed_from_wheel() -> None:
    import airflow_provider_sf360

    location = Path(airflow_provider_sf360.__file__).resolve()
    check("provider imported from the installed wheel", "site-packages" in location.parts
          and REPO not in location.parents, str(location.parent))
    dist = metadata.distribution(DIST_NAME)
    direct_url = dist.read_text("direct_url.json") or "{}"
    check("installed as a wheel, not editable", not json.loads(direct_url).get("dir_info", {}).get("editable"),
          direct_url.strip())
    check("one version", airflow_provider_sf360.__version__ == dist.version, dist.version)
    package = REPO / "airflow_provider_sf360"
    in_checkout = {str(p.relative_to(package)) for p in package.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
    installed = {str(p.relative_to(location.parent)) for p in location.parent.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    data_files = sorted(f for f in in_checkout if not f.endswith(".py"))
    check("every file of the package is in the wheel (templates, static files, py.typed)",
          in_checkout <= installed, f"missing: {sorted(in_checkout - installed)}" if in_checkout - installed
          else ", ".join(data_files))


def check_registration() -> None:
    import airflow
    import jsonschema

    listing = subprocess.run([AIRFLOW, "providers", "list", "-o", "json"], capture_output=True, text=True,
                             check=True, timeout=180).stdout
    providers = {p["package_name"]: p["version"] for p in json.loads(listing[listing.index("[{"):])}
    check("airflow providers list", providers.get(DIST_NAME) == metadata.version(DIST_NAME),
          f"{DIST_NAME} {providers.get(DIST_NAME)}")

    from airflow_provider_sf360.get_provider_info import get_provider_info

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    check("get_provider_info() passes Airflow's provider_info schema", True)


def check_form_metadata() -> None:
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_sf360.core.connection_type import CONN_TYPE, HOOK_NAME
    from airflow_provider_sf360.core.credentials import FIELD_LABELS

    manager = ProvidersManager()
    manager.initialize_providers_hooks()
    widgets = {key for key in manager.connection_form_widgets if CONN_TYPE in key}
    expected = {f"extra__{CONN_TYPE}__{field}" for field in ("org_id", "user_id", "is_sandbox")}
    check("connection form fields", expected <= widgets, ", ".join(sorted(widgets)))
    behaviour = manager.field_behaviours.get(CONN_TYPE, {})
    check("relabelled and hidden standard fields", behaviour.get("relabeling", {}).get("login") == FIELD_LABELS["login"]
          and "host" in behaviour.get("hidden_fields", []))

    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = next(m for m in HookMetaService.hook_meta_data() if m.connection_type == CONN_TYPE)
    dumped = meta.model_dump()
    check("HookMetaService form metadata", meta.hook_name == HOOK_NAME
          and dumped["standard_fields"]["login"]["title"] == FIELD_LABELS["login"]
          and dumped["extra_fields"]["org_id"]["schema"]["title"] == FIELD_LABELS["org_id"]
          and dumped["extra_fields"]["is_sandbox"]["schema"]["type"] == "boolean",
          f"{len(dumped['extra_fields'])} extra fields")


def check_ui_plugin() -> None:
    listing = subprocess.run([AIRFLOW, "plugins", "-o", "json"], capture_output=True, text=True, check=True,
                             timeout=180).stdout
    plugins = {p["name"]: p for p in json.loads(listing[listing.index("[{"):])}
    apps = [app["url_prefix"] for app in plugins.get("sf360", {}).get("fastapi_apps", [])]
    check("airflow plugins: the Salesforce 360 page", apps == ["/sf360"], ", ".join(apps))

    from airflow_provider_sf360.plugins.web import templates

    names = sorted(templates.list_templates())
    for name in names:
        templates.get_template(name)  # parses: a template missing from the wheel or broken fails here
    check("the page's templates load from the wheel", "page.html" in names, ", ".join(names))


def check_standalone_emulator() -> None:
    from airflow_provider_sf360.testing.client import EmulatorClient

    serve = subprocess.Popen([sys.executable, "-m", "airflow_provider_sf360.testing", "serve"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()  # the server prints one JSON line once it listens
        check("python -m airflow_provider_sf360.testing serve starts", bool(line.strip()),
              line.strip()[:80] or (serve.stderr.read() if serve.stderr else ""))
        info = json.loads(line)
        counts = EmulatorClient(info["control_url"], info["ca_bundle"]).request_counts()
        check("the standalone emulator answers", isinstance(counts, dict), info["login_url"])
    finally:
        serve.terminate()
        code = serve.wait(timeout=SERVE_TIMEOUT_SECONDS)
    check("the standalone emulator stops on SIGTERM", code == 0, f"exit code {code}")


def check_dag_test() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from airflow_provider_sf360.testing import SalesforceEmulator

    with SalesforceEmulator() as emulator:
        os.environ["REQUESTS_CA_BUNDLE"] = emulator.ca_bundle
        os.environ["AIRFLOW_CONN_SF360_COMPAT"] = json.dumps(emulator.sf360_connection("jwt_bearer", secret=False))
        dag = DagBag(dag_folder=str(REPO / "example_dags" / "sf360_connectivity_check.py")).dags[
            "sf360_connectivity_check"]
        run = dag.test(run_conf={"sf360_conn_id": "sf360_compat"})
        check("dag.test() of sf360_connectivity_check", str(run.state) == "success", str(run.state))
        check("token obtained once", emulator.request_counts().get("token:jwt_bearer") == 1,
              json.dumps(emulator.request_counts()))
    del os.environ["REQUESTS_CA_BUNDLE"], os.environ["AIRFLOW_CONN_SF360_COMPAT"]


def check_demo_lifecycle() -> None:
    started = time.monotonic()
    demo = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py")], capture_output=True, text=True,
                          timeout=600, check=False)
    passed = demo.returncode == 0 and "Demo finished" in demo.stdout
    if not passed:
        print(demo.stdout[-4000:], demo.stderr[-4000:], sep="\n")
    check("make demo's lifecycle (scripts/demo.py)", passed, f"{time.monotonic() - started:.0f} s")


def main() -> int:
    from airflow_provider_sf360.testing.airflow_home import use_temporary_airflow_home

    use_temporary_airflow_home(REPO / "example_dags", prefix="sf360_compat_")
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"  # keep the job's output to its PASS/FAIL lines
    import airflow

    print(f"Airflow {airflow.__version__}, Python {sys.version.split()[0]}", flush=True)
    check_installed_from_wheel()
    subprocess.run([AIRFLOW, "db", "migrate"], check=True, capture_output=True, timeout=300)
    check_registration()
    check_form_metadata()
    check_ui_plugin()
    check_standalone_emulator()
    check_dag_test()
    check_demo_lifecycle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
