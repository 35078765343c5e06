"""``EmulatorClient``: drive a running emulator (e.g. ``python -m ... serve``) from another process
through its ``/__emulator__/`` JSON control endpoints. Method names match ``SalesforceEmulator``.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any


class EmulatorControlError(RuntimeError):
    """The control endpoint refused the action."""


class EmulatorClient:
    """Control client. ``control_url`` and ``ca_bundle`` come from the ``serve`` JSON line."""

    def __init__(self, control_url: str, ca_bundle: str, timeout: float = 30.0) -> None:
        self.control_url = control_url.rstrip("/")
        self._ctx = ssl.create_default_context(cafile=ca_bundle)
        self.timeout = timeout

    def _call(self, action: str, **args: Any) -> Any:
        data = json.dumps(args).encode()
        req = urllib.request.Request(
            f"{self.control_url}/{action}", data=data, method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise EmulatorControlError(json.loads(exc.read() or b"{}").get("error", str(exc))) from None

    def info(self) -> dict[str, Any]:
        return dict(self._call("info"))

    def inject_fault(self, endpoint: str, kind: str, count: int = 1, seconds: float = 0.0) -> None:
        self._call("fault", endpoint=endpoint, kind=kind, count=count, seconds=seconds)

    def clear_faults(self) -> None:
        self._call("clear_faults")

    def revoke_user_tokens(self, user_id: str) -> int:
        return int(self._call("revoke_user_tokens", user_id=user_id)["revoked"])

    def deactivate_user(self, user_id: str) -> None:
        self._call("deactivate_user", user_id=user_id)

    def activate_user(self, user_id: str) -> None:
        self._call("activate_user", user_id=user_id)

    def restrict_login(self, user_id: str, reason: str = "login_ip_ranges") -> None:
        """Keep a user out (``login_ip_ranges`` or ``login_hours``); see ``SalesforceEmulator.restrict_login``."""
        self._call("restrict_login", user_id=user_id, reason=reason)

    def lift_login_restriction(self, user_id: str) -> None:
        """Undo :meth:`restrict_login`."""
        self._call("lift_login_restriction", user_id=user_id)

    def refresh_sandbox(self, org_id: str) -> dict[str, Any]:
        """``{"old_org_id", "new_org_id", "kept_user_ids": [...], "removed_user_ids": [...]}``."""
        return dict(self._call("refresh_sandbox", org_id=org_id))

    def request_counts(self) -> dict[str, int]:
        return dict(self._call("counts"))

    def request_log(self) -> list[dict[str, Any]]:
        return list(self._call("log"))

    def holdings(self) -> dict[str, Any]:
        """Live approvals and access tokens per user and app, rotations, family revocations by cause."""
        return dict(self._call("holdings"))

    @property
    def reuse_detections(self) -> int:
        return int(self._call("reuse_detections")["reuse_detections"])

    def reset(self) -> None:
        self._call("reset")

    def set_app(self, consumer_key: str, **changes: Any) -> None:
        self._call("set_app", consumer_key=consumer_key, **changes)

    def add_callback_url(self, url: str, consumer_key: str = "") -> None:
        self._call("add_callback_url", url=url, consumer_key=consumer_key)

    def approve(self, user_id: str, consumer_key: str) -> None:
        self._call("approve", user_id=user_id, consumer_key=consumer_key)

    def advance_clock(self, seconds: float) -> None:
        self._call("advance_clock", seconds=seconds)

    def set_auto_approve(self, enabled: bool, username: str = "") -> None:
        self._call("auto_approve", enabled=enabled, username=username)

    def authorize_headless(self, url: str, allow: bool = True, username: str | None = None) -> str:
        return str(self._call("authorize", url=url, allow=allow, username=username)["redirect_url"])
