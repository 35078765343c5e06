"""Helpers shared by the emulator tests (a uniquely named module: tests/conftest.py is also "conftest")."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import requests

CALLBACK = "https://127.0.0.1/sf360/callback"


def verify_signature(tok: dict, client_secret: str) -> bool:
    """salesforce.md section 3 reference implementation."""
    mac = hmac.new(client_secret.encode(), (tok["id"] + tok["issued_at"]).encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), tok["signature"])


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def post_token(url: str, **data: str) -> requests.Response:
    return requests.post(url, data=data, timeout=10)
