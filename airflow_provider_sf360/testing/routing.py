"""A ``requests`` transport adapter mapping real Salesforce host names to emulator ports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:
    from airflow_provider_sf360.testing.emulator import SalesforceEmulator


class _RoutingAdapter(HTTPAdapter):
    def __init__(self, emu: SalesforceEmulator) -> None:
        super().__init__()
        self.emu = emu

    def _target(self, hostname: str) -> str | None:
        if hostname == "login.salesforce.com":
            return self.emu.login_url
        if hostname == "test.salesforce.com":
            return self.emu.test_url
        for suffix in (".sandbox.my.salesforce.com", ".my.salesforce.com"):
            if hostname.endswith(suffix):
                # Enhanced sandbox domains: <MyDomain>--<Sandbox>.sandbox.my.salesforce.com
                with self.emu.world.lock:
                    org = self.emu.world.org_by_domain(hostname[: -len(suffix)])
                if org is not None:
                    return self.emu.my_domain_url_by_name(org.my_domain)
        return None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        target = self._target(parts.hostname or "")
        if target:
            base = urlsplit(target)
            request.url = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))
            request.headers["Host"] = base.netloc
        kwargs["verify"] = self.emu.ca_bundle if target else kwargs.get("verify", True)
        return super().send(request, **kwargs)


def routing_session(emu: SalesforceEmulator) -> requests.Session:
    session = requests.Session()
    adapter = _RoutingAdapter(emu)
    session.mount("https://", adapter)
    return session
