"""``sf360``: the four OAuth actions and the status of ``sf360`` connections, from a terminal.

Also ``prune`` (revoke and remove orphaned token state) and ``keygen`` (an RSA key and certificate for the JWT
bearer flow). Every action is written to Airflow's audit log (``store/audit.py``). Heavy modules are imported
by the commands that need them, so a command costs about what importing Airflow costs.

Reads and writes the Airflow metadata DB the way ``airflow connections`` does (server process context),
so run it where the Airflow CLI works (same ``AIRFLOW_HOME`` / configuration). Every action is a hook
lifecycle method. Exit codes: 0 success, 1 the action failed, 2 usage error or unusable connection.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import secrets
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow.exceptions import AirflowNotFoundException

from airflow_provider_sf360.cli.loopback import LoopbackError, LoopbackServer
from airflow_provider_sf360.core import setup_pages
from airflow_provider_sf360.core.credentials import DEFAULT_CALLBACK_URL, AuthFlow
from airflow_provider_sf360.core.errors import CredentialsInvalidError, SF360Error
from airflow_provider_sf360.core.jwt_keys import generate_jwt_key_pair
from airflow_provider_sf360.core.lifecycle import ActionResult
from airflow_provider_sf360.core.timestamps import utc_text
from airflow_provider_sf360.service.actions import SF360Actions
from airflow_provider_sf360.service.audit import AirflowAuditLog, cli_user
from airflow_provider_sf360.service.diagnose import diagnose
from airflow_provider_sf360.service.fleet import fleet_status, prune
from airflow_provider_sf360.service.fleet import orphans as orphaned_states
from airflow_provider_sf360.service.oauth_state import InvalidStateError, make_state, read_state
from airflow_provider_sf360.store.connections import (
    ConnectionRow,
    OrphanedState,
    private_key_refusal,
    read_connection,
    set_private_key,
)
from airflow_provider_sf360.store.legacy_keys import migrate_legacy_token_states

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_TIMEOUT = 300.0


class CliError(Exception):
    """A failure with its exit code and message."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ output
def _status_text(status: dict[str, Any]) -> str:
    test = status.get("last_test") or {}
    tested = (
        f"{'succeeded' if test.get('ok') else 'failed'} at {utc_text(test.get('tested_at'))}: {test.get('message', '')}"
        if test
        else "not tested"
    )
    lines = [
        f"{status.get('conn_id')}: {str(status.get('status', '')).replace('_', ' ')}",
        f"  org {status.get('org_id')}, user {status.get('user_id')}, "
        f"sandbox {'yes' if status.get('is_sandbox') else 'no'}, flow {status.get('auth_flow')}",
        f"  set up: {utc_text(status.get('set_up_at'))}" + (f" by {by}" if (by := status.get("set_up_by")) else ""),
    ]
    if status.get("refresh_used_at"):
        lines.append(f"  refresh token last used: {utc_text(status['refresh_used_at'])}")
    if status.get("last_failure"):
        lines.append(f"  last renewal failure at {utc_text(status.get('last_failure_at'))}: {status['last_failure']}")
    lines.append(f"  last test: {tested}")
    return "\n".join(lines)


def _emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    print(json.dumps(payload, default=str) if args.json else text)


# ------------------------------------------------------------------ commands
def _actions(conn_id: str) -> SF360Actions:
    """The audited actions of one connection, as this terminal's user; fails early (exit 2) on a bad connection."""
    actions = SF360Actions(conn_id, audit=AirflowAuditLog.for_user(cli_user(), "cli"))
    _ = actions.hook.credentials
    return actions


def _row_json(row: ConnectionRow) -> dict[str, Any]:
    if row.error is not None:
        return {"conn_id": row.conn_id, "status": "invalid", "error": row.error}
    return {**row.status, "shared_with": row.shared_with, "shared_from": row.shared_from}


def _row_text(row: ConnectionRow) -> str:
    if row.error is not None:
        detail = "\n".join(f"  {line}" for line in row.error.splitlines())
        return f"{row.conn_id}: invalid connection\n{detail}"
    text = _status_text(row.status)
    if row.shared_with:
        text += f"\n  shares its token with: {', '.join(row.shared_with)}"
    if row.shared_from:
        text += f"\n  uses the token of: {row.shared_from}"
    return text


def _orphan_text(orphan: OrphanedState) -> str:
    who = orphan.username or orphan.user_id
    return (f"(no connection): orphaned token state of org {orphan.org_id}, user {who}, set up "
            f"{utc_text(orphan.set_up_at)}\n  key {orphan.state_key}; revoke and remove it with `sf360 prune`")


def cmd_status(args: argparse.Namespace) -> int:
    """Every connection (invalid ones with their error) and orphaned token state, or the ones asked for."""
    fleet = fleet_status(args.conn_ids or None)
    by_id = {row.conn_id: row for row in fleet.rows}
    if args.conn_ids:
        missing = [cid for cid in args.conn_ids if cid not in by_id]
        rows = [by_id[cid] for cid in args.conn_ids if cid in by_id]
        orphans: list[OrphanedState] = []
    else:
        missing, rows, orphans = [], fleet.rows, fleet.orphans
    if args.json:
        items = [_row_json(r) for r in rows] + [{"conn_id": None, **asdict(o)} for o in orphans]
        items += [{"conn_id": cid, "status": "missing", "error": _no_connection(cid)} for cid in missing]
        print(json.dumps(items[0] if len(args.conn_ids) == 1 and items else items, default=str))
    else:
        lines = [_row_text(r) for r in rows] + [_orphan_text(o) for o in orphans]
        print("\n".join(lines) or ("" if missing else "No sf360 connection found."))
        for cid in missing:
            print(f"FAILED: {_no_connection(cid)}", file=sys.stderr)
    asked_invalid = args.conn_ids and any(r.error is not None for r in rows)
    return EXIT_USAGE if missing or asked_invalid else EXIT_OK


def _no_connection(conn_id: str) -> str:
    return f"There is no sf360 connection {conn_id!r} (see `sf360 status` for the list)."
def _report(args: argparse.Namespace, result: ActionResult) -> int:
    _emit(args, result.to_dict(), f"{'OK' if result.ok else 'FAILED'}: {result.message}")
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_setup(args: argparse.Namespace) -> int:
    actions = _actions(args.conn_id)
    if actions.hook.credentials.auth_flow is not AuthFlow.AUTHORIZATION_CODE:
        return _report(args, actions.setup())
    return _report(args, _web_login(args, actions))


def _web_login(args: argparse.Namespace, actions: SF360Actions) -> ActionResult:
    """Like ``sf org login web``: a loopback server, the authorize URL in a browser, then the code exchange."""
    callback = actions.hook.credentials.callback_url or DEFAULT_CALLBACK_URL
    key, actor = secrets.token_bytes(32), actions.audit.actor
    state = make_state(args.conn_id, actor, ttl=args.timeout + 60, key=key)
    try:
        server = LoopbackServer(callback, expected_state=state)
    except LoopbackError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    except OSError as error:
        raise CliError(f"Cannot listen on {callback}: {error.strerror}. Is another login running?") from None
    with server:
        url = actions.start_authorization(redirect_uri=callback, state=state)
        _tell(f"Open this URL, sign in as the connection's Salesforce user and click Allow:\n{url}\n"
              f"Waiting up to {int(args.timeout)} s for Salesforce to redirect to {callback} ...")
        if not args.no_browser:
            import webbrowser

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
    return actions.complete_authorization(response)


def _query_value(url: str, name: str) -> str:
    return (parse_qs(urlsplit(url).query).get(name) or [""])[0]


def _tell(message: str) -> None:
    """Instructions for the person: stderr, so that ``--json`` output on stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)


def cmd_reset(args: argparse.Namespace) -> int:
    return _report(args, _actions(args.conn_id).reset(setup_again=args.setup_again))


def cmd_test(args: argparse.Namespace) -> int:
    return _report(args, _actions(args.conn_id).test_access())


def cmd_delete(args: argparse.Namespace) -> int:
    actions = _actions_even_if_invalid(args.conn_id)
    if not args.yes and not _confirm(args.conn_id, args.keep_secrets):
        raise CliError("Not confirmed; nothing was changed.", EXIT_USAGE)
    result = actions.delete(remove_connection_secrets=not args.keep_secrets)
    payload = {"secret_fields_removed": [], **result.to_dict()}
    _emit(args, payload, f"{'OK' if result.ok else 'FAILED'}: {result.message}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _actions_even_if_invalid(conn_id: str) -> SF360Actions:
    """The actions of a connection that must exist, whatever its fields (delete also cleans up invalid ones)."""
    read_connection(conn_id)  # AirflowNotFoundException: exit 2
    return SF360Actions(conn_id, audit=AirflowAuditLog.for_user(cli_user(), "cli"))


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check a connection before and around a grant; each problem with the Setup page that fixes it."""
    read_connection(args.conn_id)  # AirflowNotFoundException: exit 2
    certificate = None
    if args.cert:
        try:
            with open(args.cert, encoding="ascii") as handle:
                certificate = handle.read(64 * 1024)
        except (OSError, UnicodeDecodeError) as error:
            raise CliError(f"Cannot read the certificate {args.cert}: {error}", EXIT_USAGE) from None
    result = diagnose(args.conn_id, certificate_pem=certificate, audit=AirflowAuditLog.for_user(cli_user(), "cli"))
    lines = [f"{args.conn_id}: {'no problem found' if result.ok else 'problems found'}"]
    for check in result.checks:
        lines.append(f"  {check.verdict.value.upper():4} {check.name}: {check.message}")
        if check.fix and check.verdict.value in ("fail", "warn"):
            lines.append(f"       fix: {check.fix}")
    _emit(args, result.to_dict(), "\n".join(lines))
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_share(args: argparse.Namespace) -> int:
    """Let TARGET use the OAuth token of SOURCE (same org, user and app), or take it back (``--stop``)."""
    _actions(args.target)
    actions = _actions(args.source)
    return _report(args, actions.stop_sharing(args.target) if args.stop else actions.share_with(args.target))


def _confirm(conn_id: str, keep_secrets: bool) -> bool:
    what = "the OAuth token" + ("" if keep_secrets else " and the connection's secret fields")
    if not sys.stdin.isatty():
        _tell("Refusing to delete without a terminal to confirm; pass --yes.")
        return False
    answer = input(f"Permanently delete {what} of {conn_id!r}? Type the connection id to confirm: ")
    return answer.strip() == conn_id


def cmd_prune(args: argparse.Namespace) -> int:
    """Revoke and remove orphaned token state (all of it, or the keys given)."""
    audit = AirflowAuditLog.for_user(cli_user(), "cli")
    orphans = [o for o in orphaned_states() if not args.state_keys or o.state_key in args.state_keys]
    unknown = sorted(set(args.state_keys) - {o.state_key for o in orphans})
    if unknown:
        raise CliError(f"Not orphaned token state: {', '.join(unknown)} (see `sf360 status`).", EXIT_USAGE)
    if not orphans:
        _emit(args, {"ok": True, "pruned": []}, "No orphaned token state.")
        return EXIT_OK
    if not args.yes:
        for orphan in orphans:
            _tell(_orphan_text(orphan))
        if not sys.stdin.isatty():
            raise CliError("Refusing to prune without a terminal to confirm; pass --yes.", EXIT_USAGE)
        if input(f"Revoke and remove {len(orphans)} orphaned token state(s)? [y/N] ").strip().lower() != "y":
            raise CliError("Not confirmed; nothing was changed.", EXIT_USAGE)
    outcomes = []
    for orphan in orphans:
        ok, message = prune(orphan.state_key, audit)
        outcomes.append({"state_key": orphan.state_key, "ok": ok, "message": message})
    all_ok = all(o["ok"] for o in outcomes)
    _emit(args, {"ok": all_ok, "pruned": outcomes},
          "\n".join(f"{'OK' if o['ok'] else 'FAILED'}: {o['state_key']}: {o['message']}" for o in outcomes))
    return EXIT_OK if all_ok else EXIT_FAILED


SETUP_PATH_FOR_CERTIFICATE = setup_pages.JWT_CERTIFICATE


CERTIFICATE_FILE_MODE = 0o644  # a certificate is public


def _write_certificate(path: str, cert_pem: str, *, overwrite: bool) -> bool:
    """Write the certificate to ``path``, never through a symlink; True when this call created the file.

    A new file unless ``overwrite`` (then an existing regular file is replaced); anything else at ``path`` (a
    symlink, a directory, a FIFO, a file without ``overwrite``) is refused with a :class:`CliError`.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | (0 if overwrite else os.O_EXCL)
    existed = os.path.lexists(path)
    try:
        fd = os.open(path, flags, CERTIFICATE_FILE_MODE)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            handle.truncate(0)
            handle.write(cert_pem)
    except OSError as error:
        hint = " (pass --force to overwrite it)" if error.errno == errno.EEXIST else ""
        reason = error.strerror or type(error).__name__
        raise CliError(f"Cannot write the certificate to {path}: {reason}{hint}. Nothing was stored.") from None
    return not existed


def _store_key_after_certificate(args: argparse.Namespace, key_pem: str, cert_pem: str) -> None:
    """The certificate file first (if asked), then the key; a refusal of the key removes a file this call made."""
    if (refusal := private_key_refusal(args.conn_id, replace_existing=args.force)) is not None:
        raise CliError(refusal, EXIT_USAGE)
    created = args.out is not None and _write_certificate(args.out, cert_pem, overwrite=args.force)
    if (refusal := set_private_key(args.conn_id, key_pem, replace_existing=args.force)) is not None:
        if created:
            os.unlink(args.out)
        raise CliError(refusal, EXIT_USAGE)


def cmd_keygen(args: argparse.Namespace) -> int:
    """An RSA key and a self-signed certificate for the JWT bearer flow; the key goes into the connection.

    The certificate is written (``--out``) before the key is stored, so a file that cannot be written leaves the
    connection as it was.
    """
    audit = AirflowAuditLog.for_user(cli_user(), "cli")
    key_pem, cert_pem = generate_jwt_key_pair(f"airflow-sf360-{args.conn_id}", days=args.days, bits=args.bits)
    try:
        _store_key_after_certificate(args, key_pem, cert_pem)
    except CliError as error:
        audit.record("keygen", args.conn_id, "failed", str(error))
        raise
    audit.record("keygen", args.conn_id, "success", "new RSA key stored in the connection's Private Key field")
    _tell(f"Stored a new {args.bits}-bit RSA private key in the Private Key field of {args.conn_id!r} (not shown)."
          f"\nUpload this certificate to the app: {SETUP_PATH_FOR_CERTIFICATE}"
          + (f" (saved to {args.out})" if args.out else " (save it as a .crt file first)")
          + ",\nthen set the connection's OAuth flow to jwt_bearer and run `sf360 setup " + args.conn_id + "`.")
    _emit(args, {"ok": True, "conn_id": args.conn_id, "certificate": cert_pem, "upload_to": SETUP_PATH_FOR_CERTIFICATE},
          cert_pem.rstrip())
    return EXIT_OK


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
    doctor = sub.add_parser("doctor", parents=[common], help="check a connection and say what to fix where")
    doctor.add_argument("conn_id", metavar="CONN_ID")
    doctor.add_argument("--cert", metavar="FILE", help="jwt_bearer: the certificate uploaded to the app, to compare")
    doctor.set_defaults(func=cmd_doctor)
    share = sub.add_parser("share", parents=[common], help="let TARGET use the OAuth token of SOURCE")
    share.add_argument("source", metavar="SOURCE", help="the connection whose token is shared")
    share.add_argument("target", metavar="TARGET", help="a connection naming the same org, user and app")
    share.add_argument("--stop", action="store_true", help="take the token back from TARGET")
    share.set_defaults(func=cmd_share)
    prune = sub.add_parser("prune", parents=[common], help="revoke and remove orphaned token state")
    prune.add_argument("state_keys", nargs="*", metavar="STATE_KEY", help="only these (default: all orphans)")
    prune.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    prune.set_defaults(func=cmd_prune)
    keygen = sub.add_parser("keygen", parents=[common], help="RSA key + certificate for the JWT bearer flow")
    keygen.add_argument("conn_id", metavar="CONN_ID")
    keygen.add_argument("--days", type=int, default=730, help="certificate validity (default 730)")
    keygen.add_argument("--bits", type=int, default=2048, choices=(2048, 3072, 4096), help="RSA key size")
    keygen.add_argument("--out", metavar="FILE", help="also write the certificate to FILE")
    keygen.add_argument("--force", action="store_true", help="replace a Private Key already in the connection")
    keygen.set_defaults(func=cmd_keygen)
    return parser


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return func(args)
    except CliError as error:
        return _fail(args, str(error), error.code)
    except AirflowNotFoundException:
        asked = getattr(args, "conn_id", None) or ", ".join(getattr(args, "conn_ids", None) or []) or "?"
        return _fail(args, _no_connection(asked), EXIT_USAGE)
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

    logging.raiseExceptions = False  # a log line to a closed pipe is dropped, not a traceback
    try:
        migrate_legacy_token_states()  # token state of releases before 0.2, moved once to per-connection keys
        code = _run(args.func, args)
        sys.stdout.flush()
    except BrokenPipeError:  # `sf360 status | head -1`: the reader is gone, which is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second BrokenPipeError when Python flushes at exit
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
