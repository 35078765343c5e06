"""``sf360``: the four OAuth actions and the status of an ``sf360`` connection, from a terminal.

Reads and writes the Airflow metadata DB the way ``airflow connections`` does (server process context),
so run it where the Airflow CLI works (same ``AIRFLOW_HOME`` / configuration). Every action is a hook
lifecycle method. Exit codes: 0 success, 1 the action failed, 2 usage error or unusable connection.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import secrets
import sys
import webbrowser
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_TIMEOUT = 300.0


class CliError(Exception):
    """A failure with its exit code and message."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ output
def _when(epoch: Any) -> str:
    if not epoch:
        return "never"
    return dt.datetime.fromtimestamp(float(epoch), tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status_text(status: dict[str, Any]) -> str:
    test = status.get("last_test") or {}
    tested = (
        f"{'succeeded' if test.get('ok') else 'failed'} at {_when(test.get('tested_at'))}: {test.get('message', '')}"
        if test
        else "not tested"
    )
    return "\n".join([
        f"{status.get('conn_id')}: {str(status.get('status', '')).replace('_', ' ')}",
        f"  org {status.get('org_id')}, user {status.get('user_id')}, "
        f"sandbox {'yes' if status.get('is_sandbox') else 'no'}, flow {status.get('auth_flow')}",
        f"  set up: {_when(status.get('set_up_at'))}" + (f" by {by}" if (by := status.get("set_up_by")) else ""),
        f"  last test: {tested}",
    ])


def _emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    print(json.dumps(payload, default=str) if args.json else text)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


# ------------------------------------------------------------------ commands
def _hook(conn_id: str) -> Any:
    from airflow_provider_sf360.hooks.sf360 import SF360Hook

    hook = SF360Hook(conn_id)
    _ = hook.credentials  # fail early (exit 2) on a missing or invalid connection
    return hook


def cmd_status(args: argparse.Namespace) -> int:
    from airflow_provider_sf360.store.connections import list_conn_ids

    conn_ids = args.conn_ids or list_conn_ids()
    statuses = [_hook(conn_id).status() for conn_id in conn_ids]
    if args.json:
        print(json.dumps(statuses if not args.conn_ids or len(conn_ids) > 1 else statuses[0], default=str))
    else:
        print("\n".join(_status_text(s) for s in statuses) or "No sf360 connection found.")
    return EXIT_OK


def _report(args: argparse.Namespace, result: Any) -> int:
    _emit(args, result.to_dict(), f"{'OK' if result.ok else 'FAILED'}: {result.message}")
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_setup(args: argparse.Namespace) -> int:
    hook = _hook(args.conn_id)
    if hook.credentials.auth_flow.value != "authorization_code":
        return _report(args, hook.setup(set_up_by=_actor()))
    return _report(args, _web_login(args, hook))


def _web_login(args: argparse.Namespace, hook: Any) -> Any:
    """Like ``sf org login web``: a loopback server, the authorize URL in a browser, then the code exchange."""
    from airflow_provider_sf360.cli.loopback import LoopbackError, LoopbackServer
    from airflow_provider_sf360.core.credentials import DEFAULT_CALLBACK_URL
    from airflow_provider_sf360.plugins.oauth_state import InvalidStateError, make_state, read_state

    callback = hook.credentials.callback_url or DEFAULT_CALLBACK_URL
    key, actor = secrets.token_bytes(32), _actor()
    state = make_state(args.conn_id, actor, ttl=args.timeout + 60, key=key)
    try:
        server = LoopbackServer(callback)
    except LoopbackError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    except OSError as error:
        raise CliError(f"Cannot listen on {callback}: {error.strerror}. Is another login running?") from None
    with server:
        url = hook.authorization_url(redirect_uri=callback, state=state, requested_by=actor)
        _tell(f"Open this URL, sign in as the connection's Salesforce user and click Allow:\n{url}\n"
              f"Waiting up to {int(args.timeout)} s for Salesforce to redirect to {callback} ...")
        if not args.no_browser:
            webbrowser.open(url)
        response = server.wait(args.timeout)
    if response is None:
        raise CliError(f"No answer from Salesforce within {int(args.timeout)} s; nothing was changed.")
    returned = _query_value(response, "state")
    try:
        if returned != state:
            raise InvalidStateError("the state does not match the one this command sent")
        read_state(returned, username=actor, key=key)
    except InvalidStateError as error:
        raise CliError(f"Setup refused: {error}. Nothing was changed.") from None
    return hook.complete_authorization(response, set_up_by=actor)


def _query_value(url: str, name: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return (parse_qs(urlsplit(url).query).get(name) or [""])[0]


def _tell(message: str) -> None:
    """Instructions for the person: stderr, so that ``--json`` output on stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)


def cmd_reset(args: argparse.Namespace) -> int:
    hook = _hook(args.conn_id)
    return _report(args, hook.reset(setup_again=args.setup_again, set_up_by=_actor()))


def cmd_test(args: argparse.Namespace) -> int:
    return _report(args, _hook(args.conn_id).test_access())


def cmd_delete(args: argparse.Namespace) -> int:
    hook = _hook(args.conn_id)
    if not args.yes and not _confirm(args.conn_id, args.keep_secrets):
        raise CliError("Not confirmed; nothing was changed.", EXIT_USAGE)
    result = hook.delete(remove_connection_secrets=not args.keep_secrets)
    payload = {"secret_fields_removed": [], **result.to_dict()}
    _emit(args, payload, f"{'OK' if result.ok else 'FAILED'}: {result.message}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _confirm(conn_id: str, keep_secrets: bool) -> bool:
    what = "the OAuth token" + ("" if keep_secrets else " and the connection's secret fields")
    if not sys.stdin.isatty():
        _tell("Refusing to delete without a terminal to confirm; pass --yes.")
        return False
    answer = input(f"Permanently delete {what} of {conn_id!r}? Type the connection id to confirm: ")
    return answer.strip() == conn_id


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")
    parser = argparse.ArgumentParser(
        prog="sf360",
        description="Set up, reset, test or delete the Salesforce OAuth token of an Airflow sf360 connection.",
        epilog="Exit codes: 0 success, 1 the action failed, 2 usage error or unusable connection.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    status = sub.add_parser("status", parents=[common], help="token status and last test (all connections)")
    status.add_argument("conn_ids", nargs="*", metavar="CONN_ID")
    status.set_defaults(func=cmd_status)
    setup = sub.add_parser("setup", parents=[common], help="set up the OAuth token (browser sign-in)")
    setup.add_argument("conn_id", metavar="CONN_ID")
    setup.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    setup.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait (default 300)")
    setup.set_defaults(func=cmd_setup)
    reset = sub.add_parser("reset", parents=[common], help="revoke and forget the token; fields are kept")
    reset.add_argument("conn_id", metavar="CONN_ID")
    reset.add_argument("--setup-again", action="store_true", help="machine flows: get a new token at once")
    reset.set_defaults(func=cmd_reset)
    test = sub.add_parser("test", parents=[common], help="test access with the token")
    test.add_argument("conn_id", metavar="CONN_ID")
    test.set_defaults(func=cmd_test)
    delete = sub.add_parser("delete", parents=[common], help="revoke and remove the token and the secret fields")
    delete.add_argument("conn_id", metavar="CONN_ID")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.add_argument("--keep-secrets", action="store_true", help="keep the connection's own secret fields")
    delete.set_defaults(func=cmd_delete)
    return parser


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from airflow.exceptions import AirflowNotFoundException

    from airflow_provider_sf360.exceptions import CredentialsInvalidError, SF360Error

    try:
        return func(args)
    except CliError as error:
        return _fail(args, str(error), error.code)
    except AirflowNotFoundException:
        return _fail(args, f"There is no connection {getattr(args, 'conn_id', '')!r}.", EXIT_USAGE)
    except CredentialsInvalidError as error:
        return _fail(args, str(error), EXIT_USAGE)
    except SF360Error as error:
        return _fail(args, str(error), EXIT_FAILED, getattr(error, "reason", None))


def _fail(args: argparse.Namespace, message: str, code: int, reason: str | None = None) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": reason or "error", "message": message}))
    else:
        print(f"FAILED: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sf360`` console script."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")  # secrets chain incl. the metadata DB
    return _run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
