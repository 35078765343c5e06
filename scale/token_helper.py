"""Token actions outside any task, on the run's metadata DB: ``setup`` (web server flow), ``status``, ``delete``
(revoke and forget the stored token), or ``expire`` (the stored access token is marked expired, so the next task
that uses it must renew). The second argument names the connection (default ``sf360_scale``).

Run with the run's environment (``AirflowStack.helper``): Postgres URL, Fernet key, the connection env var,
``REQUESTS_CA_BUNDLE`` and ``SF360_SCALE_CONTROL_URL``. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace


def main(argv: list[str]) -> int:
    from airflow_provider_sf360.hooks.sf360 import SF360Hook
    from airflow_provider_sf360.testing import EmulatorClient

    hook = SF360Hook(argv[1] if len(argv) > 1 else "sf360_scale")
    action = argv[0] if argv else "status"
    if action == "setup":
        emulator = EmulatorClient(os.environ["SF360_SCALE_CONTROL_URL"], os.environ["REQUESTS_CA_BUNDLE"])
        result = hook.complete_authorization(emulator.authorize_headless(hook.authorization_url()))
        answer = result.to_dict()
    elif action == "status":
        answer = hook.status()
    elif action == "delete":
        answer = hook.delete().to_dict()
    elif action == "expire":
        state = hook.lifecycle.store.load()
        if state is None:
            raise SystemExit("nothing to expire: set up first")
        hook.lifecycle.store.save(replace(state, expires_at=time.time() - 1))
        answer = {"ok": True}
    else:
        raise SystemExit(f"unknown action {action!r}: use setup, status, delete or expire")
    print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
