"""JSON control endpoints under ``/__emulator__/`` on the login host, for tests in other processes.

``POST /__emulator__/<action>`` with a JSON object body (``GET`` works for read-only actions).
The answer is JSON; errors are ``400 {"error": "..."}``. Same names as the Python API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_sf360.testing.messages import Request, Response, json_response

if TYPE_CHECKING:
    from airflow_provider_sf360.testing.emulator import SalesforceEmulator

CONTROL_PREFIX = "/__emulator__/"


def handle(emu: SalesforceEmulator, req: Request) -> Response:
    action = req.path[len(CONTROL_PREFIX):].strip("/")
    try:
        args: dict[str, Any] = (req.json() or {}) if req.body else {}
        if not isinstance(args, dict):
            raise ValueError("the body must be a JSON object")
        return json_response(200, _run(emu, action, args))
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        return json_response(400, {"error": str(exc)})


def _run(emu: SalesforceEmulator, action: str, a: dict[str, Any]) -> Any:
    if action == "info":
        return emu.info()
    if action == "fault":
        emu.inject_fault(a["endpoint"], a["kind"], int(a.get("count", 1)), float(a.get("seconds", 0.0)))
        return {"ok": True}
    if action == "clear_faults":
        emu.clear_faults()
        return {"ok": True}
    if action == "revoke_user_tokens":
        return {"revoked": emu.revoke_user_tokens(a["user_id"])}
    if action == "deactivate_user":
        emu.deactivate_user(a["user_id"])
        return {"ok": True}
    if action == "activate_user":
        emu.activate_user(a["user_id"])
        return {"ok": True}
    if action == "refresh_sandbox":
        return emu.refresh_sandbox(a["org_id"]).to_dict()
    if action == "counts":
        return emu.request_counts()
    if action == "log":
        return emu.request_log()
    if action == "holdings":
        return emu.holdings()
    if action == "reuse_detections":
        return {"reuse_detections": emu.reuse_detections}
    if action == "reset":
        emu.reset()
        return {"ok": True}
    if action == "set_app":
        key = a.pop("consumer_key")
        emu.set_app(key, **a)
        return {"ok": True}
    if action == "add_callback_url":
        emu.add_callback_url(a["url"], a.get("consumer_key", ""))
        return {"ok": True}
    if action == "approve":
        emu.approve(a["user_id"], a["consumer_key"])
        return {"ok": True}
    if action == "advance_clock":
        emu.advance_clock(float(a["seconds"]))
        return {"ok": True}
    if action == "auto_approve":
        emu.set_auto_approve(bool(a.get("enabled", True)), str(a.get("username", "")))
        return {"ok": True}
    if action == "authorize":
        return {"redirect_url": emu.authorize_headless(a["url"], allow=bool(a.get("allow", True)),
                                                       username=a.get("username"))}
    raise KeyError(f"unknown control action {action!r}")
