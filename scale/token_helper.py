"""Token actions outside any task, on the run's metadata DB: ``setup`` (web server flow), ``status``, ``delete``
or ``expire`` (mark the stored access token as ended, so that the next use renews it).

Run with the run's environment (``AirflowStack.helper``): Postgres URL, Fernet key, the connection env var,
``REQUESTS_CA_BUNDLE`` and ``SF360_SCALE_CONTROL_URL``. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace

from airflow_provider_sf360.service import SF360Actions
from airflow_provider_sf360.testing import EmulatorClient


def main(argv: list[str]) -> int:
    actions = SF360Actions(argv[1] if len(argv) > 1 else "sf360_scale")
    action = argv[0] if argv else "status"
    if action == "setup":
        emulator = EmulatorClient(os.environ["SF360_SCALE_CONTROL_URL"], os.environ["REQUESTS_CA_BUNDLE"])
        answer = actions.complete_authorization(emulator.authorize_headless(actions.start_authorization())).to_dict()
    elif action == "status":
        answer = actions.status()
    elif action == "delete":
        answer = actions.delete().to_dict()
    elif action == "expire":
        store = actions.hook.lifecycle.store
        state = store.load()
        if state is None:
            raise SystemExit("nothing to expire: set up first")
        store.save(replace(state, expires_at=time.time() - 1))
        answer = {"ok": True}
    else:
        raise SystemExit(f"unknown action {action!r}: use setup, status, delete or expire")
    print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
