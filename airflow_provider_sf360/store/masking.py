"""Which tokens are registered with Airflow's secrets masker, and why not in the api-server.

Task processes mask every token they read or obtain (``mask_secret``): their logs are where DAG code writes, and
they live for one task. The api-server does not. Airflow's masker recompiles one regular expression of every value
it holds each time a new one is added, and never forgets one; an api-server that renews a fleet's tokens for weeks
would add two values per renewal and spend seconds compiling on each (measured: 167 ms per new value at 1,000
values, 2.6 s at 20,000), blocking its event loop. The provider never logs a token there (the test suite scans the
api-server's log files for every token the emulator issued), so the plugin app turns masking off once, when the
api-server builds it.
"""

from __future__ import annotations

from airflow.sdk.log import mask_secret

_masking = True


def mask_token(secret: str) -> None:
    """Register a token with Airflow's secrets masker, unless this process is the api-server.

    :param secret: an access token, refresh token, code verifier or other secret value.
    """
    if _masking:
        mask_secret(secret)


def in_the_api_server() -> None:
    """Called once by the plugin app at the api-server's start: tokens are not added to the masker here."""
    global _masking
    _masking = False
