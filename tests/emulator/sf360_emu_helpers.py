"""Helpers shared by the emulator tests (a uniquely named module: tests/conftest.py is also "conftest")."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

CALLBACK = "https://127.0.0.1/sf360/callback"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def post_token(url: str, **data: str) -> requests.Response:
    return requests.post(url, data=data, timeout=10)
