"""Play the browser for the authorize flow: GET the page, log in, click Allow or Deny.

Used by :meth:`SalesforceEmulator.authorize_headless`, CLI tests and the demo. It speaks real HTTPS
to the emulator (trusting only the emulator CA) and submits the same forms a person would.
"""

from __future__ import annotations

import http.client
import re
import ssl
from html import unescape
from urllib.parse import parse_qsl, urlencode, urlsplit


class EmulatorBrowserError(RuntimeError):
    """The authorize flow stopped on an error page or a login error."""


def _request(ctx: ssl.SSLContext, method: str, url: str, form: dict[str, str] | None = None
             ) -> tuple[int, str, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname or "127.0.0.1", parts.port or 443, context=ctx, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        body = urlencode(form) if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location") or "", resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _page_error(html: str) -> str:
    found = re.search(r'role="alert">(.*?)</p>', html, re.DOTALL)
    return unescape(found.group(1)) if found else ""


def authorize(url: str, ca_bundle: str, username: str, allow: bool = True) -> str:
    """Return the redirect URL (``code``/``state`` or ``error=access_denied``) of an authorize URL."""
    ctx = ssl.create_default_context(cafile=ca_bundle)
    status, location, html = _request(ctx, "GET", url)
    if status == 302:
        return location
    if status != 200:
        raise EmulatorBrowserError(f"authorize page error: {_page_error(html)} (HTTP {status})")
    parts = urlsplit(url)
    action = f"{parts.scheme}://{parts.netloc}{parts.path}"
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    status, location, html = _request(ctx, "POST", action, {**params, "sf360_step": "login", "username": username})
    if status == 302:
        return location
    if "sf360_step\" value=\"consent\"" not in html:
        raise EmulatorBrowserError(f"login failed for {username!r}: {_page_error(html)}")
    form = {**params, "sf360_step": "consent", "username": username, "action": "allow" if allow else "deny"}
    status, location, html = _request(ctx, "POST", action, form)
    if status != 302:
        raise EmulatorBrowserError(f"consent failed: {_page_error(html)} (HTTP {status})")
    return location
