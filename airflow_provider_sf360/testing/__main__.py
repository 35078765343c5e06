"""``python -m airflow_provider_sf360.testing serve [--config FILE] [--port-base N] [--auto-approve]
[--state-file PATH] [--callback-url URL ...]``: run the emulator until SIGTERM/SIGINT.

Prints one JSON line (login_url, test_url, ca_bundle, control_url, jwt_private_key_file, orgs) on
stdout; ``--state-file`` also writes it to PATH (removed at exit) for scripts that start it in the
background.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_sf360.testing")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the Salesforce emulator until stopped")
    serve.add_argument("--config", help="JSON config file (default: the built-in default world)")
    serve.add_argument("--port-base", type=int, default=0, help="login=N, test=N+1, My Domains N+2...")
    serve.add_argument("--auto-approve", action="store_true", help="authorize redirects at once with a code")
    serve.add_argument("--auto-login-username", default="", help="user for --auto-approve")
    serve.add_argument("--state-file", help="also write the JSON line to this file")
    serve.add_argument("--callback-url", action="append", default=[], help="extra callback URL for every app")
    args = parser.parse_args(argv)

    from airflow_provider_sf360.testing.config import EmulatorConfig
    from airflow_provider_sf360.testing.emulator import SalesforceEmulator

    config = EmulatorConfig.from_json(args.config) if args.config else EmulatorConfig.default()
    if args.auto_approve:
        config.auto_approve = True
    if args.auto_login_username:
        config.auto_login_username = args.auto_login_username
    for app in config.apps:
        app.callback_urls.extend(u for u in args.callback_url if u not in app.callback_urls)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    state_file = Path(args.state_file) if args.state_file else None
    with SalesforceEmulator(config, port_base=args.port_base) as emu:
        line = json.dumps(emu.info())
        if state_file:
            state_file.write_text(line + "\n")
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    if state_file:
        state_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
