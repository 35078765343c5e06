"""`make demo`: a real Airflow home, a sample ``sf360`` connection, and what the provider makes of it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="sf360_demo_"))
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
    })
    step(f"Airflow home {home}: migrating the metadata DB")
    subprocess.run([AIRFLOW, "db", "migrate"], check=True, capture_output=True)

    extra = {"org_id": "00d5e000000abcdeak", "user_id": "0055e000001XyZa", "is_sandbox": False,
             "auth_flow": "authorization_code", "callback_url": "http://localhost:1717/OauthRedirect"}
    step("airflow connections add sf360_default (Org ID typed in lower case, User ID in 15 characters)")
    subprocess.run([AIRFLOW, "connections", "add", "sf360_default", "--conn-type", "sf360", "--conn-login",
                    "3MVG9sf360DemoConsumerKey", "--conn-extra", json.dumps(extra)], check=True, capture_output=True)

    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    creds = SF360Hook("sf360_default").credentials
    step("Validated credentials (canonical 18-character IDs)")
    print(json.dumps(creds.describe(), indent=2))

    step("A connection with mistakes: every field's problem is reported at once, before any network call")
    subprocess.run([AIRFLOW, "connections", "add", "sf360_broken", "--conn-type", "sf360", "--conn-extra",
                    json.dumps({"org_id": "0055e000001XyZa", "login_url": "http://acme.my.salesforce.com"})],
                   check=True, capture_output=True)
    try:
        _ = SF360Hook("sf360_broken").credentials
    except ValueError as error:
        print(error)
    print("\nDemo finished.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
