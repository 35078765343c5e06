"""JSON control endpoints under ``/__emulator__/`` on the login host, for tests in other processes.

``POST /__emulator__/<action>`` with a JSON object body (``GET`` works for read-only actions).
The answer is JSON; errors are ``400 {"error": "..."}``. Same names as the Python API.

It drives any object with the control methods (:class:`Controllable`); it does not import the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from airflow_provider_sf360.testing.messages import Request, Response, json_response
from airflow_provider_sf360.testing.records import SandboxRefresh

CONTROL_PREFIX = "/__emulator__/"
OK = {"ok": True}


class Controllable(Protocol):
    """The control methods of ``SalesforceEmulator`` that the endpoints call."""

    @property
    def reuse_detections(self) -> int: ...

    def info(self) -> dict[str, Any]: ...
    def inject_fault(self, endpoint: str, kind: str, count: int = 1, seconds: float = 0.0) -> None: ...
    def clear_faults(self) -> None: ...
    def revoke_user_tokens(self, user_id: str) -> int: ...
    def deactivate_user(self, user_id: str) -> None: ...
    def activate_user(self, user_id: str) -> None: ...
    def restrict_login(self, user_id: str, reason: str = "login_ip_ranges") -> None: ...
    def lift_login_restriction(self, user_id: str) -> None: ...
    def refresh_sandbox(self, org_id: str) -> SandboxRefresh: ...
    def request_counts(self) -> dict[str, int]: ...
    def request_log(self) -> list[dict[str, Any]]: ...
    def holdings(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def set_app(self, consumer_key: str, **changes: Any) -> Any: ...
    def add_callback_url(self, url: str, consumer_key: str = "") -> None: ...
    def approve(self, user_id: str, consumer_key: str) -> None: ...
    def advance_clock(self, seconds: float) -> None: ...
    def set_auto_approve(self, enabled: bool, username: str = "") -> None: ...
    def authorize_headless(self, url: str, allow: bool = True, username: str | None = None) -> str: ...


def handle(emu: Controllable, req: Request) -> Response:
    """Run the action named by the path with the JSON body's arguments.

    :param emu: the emulator to drive.
    :param req: the control request.
    """
    action = req.path[len(CONTROL_PREFIX):].strip("/")
    try:
        args: dict[str, Any] = (req.json() or {}) if req.body else {}
        if not isinstance(args, dict):
            raise ValueError("the body must be a JSON object")
        run = _ACTIONS.get(action)
        if run is None:
            raise KeyError(f"unknown control action {action!r}")
        return json_response(200, run(emu, args))
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        return json_response(400, {"error": str(exc)})


def _done(call: Callable[[Controllable, dict[str, Any]], object]) -> Callable[[Controllable, dict[str, Any]], Any]:
    """An action that answers ``{"ok": true}``."""

    def run(emu: Controllable, a: dict[str, Any]) -> Any:
        call(emu, a)
        return OK

    return run


def _set_app(emu: Controllable, a: dict[str, Any]) -> Any:
    changes = dict(a)
    key = changes.pop("consumer_key")
    emu.set_app(key, **changes)
    return OK


_ACTIONS: dict[str, Callable[[Controllable, dict[str, Any]], Any]] = {
    "info": lambda emu, a: emu.info(),
    "fault": _done(lambda emu, a: emu.inject_fault(a["endpoint"], a["kind"], int(a.get("count", 1)),
                                                   float(a.get("seconds", 0.0)))),
    "clear_faults": _done(lambda emu, a: emu.clear_faults()),
    "revoke_user_tokens": lambda emu, a: {"revoked": emu.revoke_user_tokens(a["user_id"])},
    "deactivate_user": _done(lambda emu, a: emu.deactivate_user(a["user_id"])),
    "activate_user": _done(lambda emu, a: emu.activate_user(a["user_id"])),
    "restrict_login": _done(lambda emu, a: emu.restrict_login(a["user_id"], str(a.get("reason", "login_ip_ranges")))),
    "lift_login_restriction": _done(lambda emu, a: emu.lift_login_restriction(a["user_id"])),
    "refresh_sandbox": lambda emu, a: emu.refresh_sandbox(a["org_id"]).to_dict(),
    "counts": lambda emu, a: emu.request_counts(),
    "log": lambda emu, a: emu.request_log(),
    "holdings": lambda emu, a: emu.holdings(),
    "reuse_detections": lambda emu, a: {"reuse_detections": emu.reuse_detections},
    "reset": _done(lambda emu, a: emu.reset()),
    "set_app": _set_app,
    "add_callback_url": _done(lambda emu, a: emu.add_callback_url(a["url"], a.get("consumer_key", ""))),
    "approve": _done(lambda emu, a: emu.approve(a["user_id"], a["consumer_key"])),
    "advance_clock": _done(lambda emu, a: emu.advance_clock(float(a["seconds"]))),
    "auto_approve": _done(lambda emu, a: emu.set_auto_approve(bool(a.get("enabled", True)),
                                                              str(a.get("username", "")))),
    "authorize": lambda emu, a: {"redirect_url": emu.authorize_headless(a["url"], allow=bool(a.get("allow", True)),
                                                                        username=a.get("username"))},
}
