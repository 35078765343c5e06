"""Smoke test on the oldest Airflow 3 release the provider claims (run by `make compat`).

Checks, in a fresh Airflow home: provider registration, the connection form metadata, and one real
`dag.test()` of the connectivity-check DAG against the emulator. Prints one line per check; exit 0 on success.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_sf360.testing.airflow_home import use_temporary_airflow_home

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'PASS' if ok else 'FAIL'}: {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        raise SystemExit(1)


def main() -> int:
    use_temporary_airflow_home(REPO / "example_dags", prefix="sf360_compat_")
    import airflow

    print(f"Airflow {airflow.__version__}, Python {sys.version.split()[0]}")
    subprocess.run([AIRFLOW, "db", "migrate"], check=True, capture_output=True)
    listing = subprocess.run([AIRFLOW, "providers", "list", "-o", "json"], capture_output=True, text=True, check=True)
    check("provider registered", "airflow-provider-sf360" in listing.stdout)

    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    manager.initialize_providers_hooks()
    widgets = {key for key in manager.connection_form_widgets if "sf360" in key}
    check("connection form fields", {f"extra__sf360__{f}" for f in ("org_id", "user_id", "is_sandbox")} <= widgets,
          ", ".join(sorted(widgets)))
    behaviour = manager.field_behaviours.get("sf360", {})
    check("relabelled and hidden standard fields", behaviour.get("relabeling", {}).get("login") == "Consumer Key"
          and "host" in behaviour.get("hidden_fields", []))

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
