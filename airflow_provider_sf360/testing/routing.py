"""A ``requests`` transport adapter mapping real Salesforce host names to emulator ports.

It knows nothing of the emulator: it is given a function that names the emulator base URL of a host name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

#: Host name (``login.salesforce.com``, ``acme.my.salesforce.com``...) → emulator base URL, or None to leave it.
HostResolver = Callable[[str], "str | None"]


class _RoutingAdapter(HTTPAdapter):
    def __init__(self, resolve: HostResolver, ca_bundle: str) -> None:
        super().__init__()
        self.resolve = resolve
        self.ca_bundle = ca_bundle

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        target = self.resolve(parts.hostname or "")
        if target:
            base = urlsplit(target)
            request.url = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))
            request.headers["Host"] = base.netloc
        kwargs["verify"] = self.ca_bundle if target else kwargs.get("verify", True)
        return super().send(request, **kwargs)


def routing_session(resolve: HostResolver, ca_bundle: str) -> requests.Session:
    """A session whose HTTPS requests to the host names ``resolve`` knows go to the emulator (trusting its CA).

    :param resolve: host name → emulator base URL (or None for hosts it does not emulate).
    :param ca_bundle: the emulator's CA file.
    """
    session = requests.Session()
    session.mount("https://", _RoutingAdapter(resolve, ca_bundle))
    return session
