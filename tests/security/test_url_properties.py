"""Property tests (Hypothesis) of the URL and host checks: thousands of generated URLs, tricky characters included.

Every URL is either refused by :func:`url_problem`, or judged the same by the check and by what requests would
connect to: urllib3's ``parse_url`` and requests' ``PreparedRequest.prepare_url`` (then re-read with
``urllib.parse`` as requests' adapter does), on the URL as given and on the rebuilt URL. The figures (URLs tried,
refused, disagreements) are printed and written to ``test-artifacts/url_property_figures.json``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.models import PreparedRequest
from urllib3.util import parse_url

from airflow_provider_sf360.core.errors import UntrustedHostError
from airflow_provider_sf360.core.hosts import (
    MY_DOMAIN_SUFFIXES,
    SALESFORCE_LOGIN_HOSTS,
    ProviderSettings,
    check_trusted_url,
    is_allowed_host,
    require_trusted_url,
    url_problem,
)

pytestmark = pytest.mark.slow  # thousands of generated URLs

SETTINGS = ProviderSettings.from_options("127.0.0.1,localhost,::1,.sf-proxy.example.com")
FIGURES: Counter[str] = Counter()
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "url_property_figures.json"

TRICKY = [
    "\\", "/", "@", ":", "#", "?", "%", "%2e", "%40", "%5c", "%00", "[", "]", ".", "..", " ", "\t", "\n", "\r",
    "\x00", "\x0b", "\x7f", "\u3002", "\uff0e", "\uff3c", "\u200b", "\xa0", "\u2028", "\u0430", "\u00df",
    "\u0131", "\u0130", "*", "&", "=", ";", ",", "'", '"', "<", ">", "|", "^", "`", "{", "}", "~", "+", "$", "!",
]
HOSTS = [
    "login.salesforce.com", "test.salesforce.com", "acme.my.salesforce.com", "acme--uat.sandbox.my.salesforce.com",
    "ACME.MY.SALESFORCE.COM", "acme.my.salesforce.com.", "na1.force.com", "evil.test", "salesforce.com.evil.test",
    "evilsalesforce.com", "127.0.0.1", "127.1", "0x7f.0.0.1", "2130706433", "localhost", "LOCALHOST", "[::1]",
    "[::ffff:127.0.0.1]", "[0:0::1]", "[::1%25eth0]", "::1", "xn--acme-9na.my.salesforce.com",
    "\u0430cme.my.salesforce.com", "acme.my.salesforce.com\u3002evil.test", "api.sf-proxy.example.com",
    "sf-proxy.example.com", "%61cme.my.salesforce.com", "", "a" * 64 + ".salesforce.com", "-x.salesforce.com",
]
SCHEMES = ["https"] * 8 + ["HTTPS", "hTtPs", "http", "ftp", "", "https ", " https", "ht\ttps", "javascript"]
SEPARATORS = ["://"] * 8 + [":/", ":\\\\", ":\\/", "//", ":///", ":", "://\\"]


def _text(alphabet: list[str], max_size: int = 6) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(alphabet) | st.text(max_size=2), max_size=max_size).map("".join)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(SCHEMES))
    separator = draw(st.sampled_from(SEPARATORS))
    userinfo = draw(st.none() | _text([*TRICKY, "user", "pw", "127.0.0.1:8443", "acme.my.salesforce.com"]))
    host = draw(st.sampled_from(HOSTS) | _text([*TRICKY, *HOSTS, "a", "b", "0"], 4))
    port = draw(
        st.none()
        | st.integers(min_value=-1, max_value=70000).map(str)
        | st.sampled_from(["", "443", "0443", "8443\\", "+1", " 1", "1 ", "\uff11\uff12\uff13", "65536", "99999999999"])
    )
    path = draw(st.none() | _text([*TRICKY, "/services/oauth2/token", "/id/", "a", "b"]))
    query = draw(st.none() | _text([*TRICKY, "a=b", "@evil.test", "x"]))
    fragment = draw(st.none() | _text([*TRICKY, "@evil.test", "x"], 3))
    url = f"{scheme}{separator}"
    url += f"{userinfo}@" if userinfo is not None else ""
    url += host + (f":{port}" if port is not None else "")
    url += path or ""
    url += f"?{query}" if query is not None else ""
    url += f"#{fragment}" if fragment is not None else ""
    noise = draw(st.lists(st.tuples(st.integers(0, 200), st.sampled_from(TRICKY)), max_size=2) | st.just([]))
    for position, char in noise:
        at = position % (len(url) + 1)
        url = url[:at] + char + url[at:]
    return url


def _where_requests_connects(url: str) -> set[tuple[str, int]]:
    """Host and port as urllib3 and requests (prepare, then the adapter's urllib.parse) read ``url``."""
    seen = set()
    parsed = parse_url(url)
    seen.add(((parsed.host or "").strip("[]").lower(), parsed.port or 443))
    prepared = PreparedRequest()
    prepared.prepare_url(url, None)
    for reader in (parse_url(str(prepared.url)), urlsplit(str(prepared.url))):
        host = reader.host if hasattr(reader, "host") else reader.hostname  # type: ignore[union-attr]
        seen.add(((host or "").strip("[]").lower(), reader.port or 443))
    return seen


def _judge(url: str) -> None:
    FIGURES["tried"] += 1
    problem = url_problem(url, SETTINGS)
    if problem is not None:
        FIGURES["refused"] += 1
        with pytest.raises(UntrustedHostError):
            require_trusted_url(url, SETTINGS, "property test")
        return
    FIGURES["accepted"] += 1
    checked = check_trusted_url(url, SETTINGS)
    expected = {(checked.host, checked.port or 443)}
    rebuilt = require_trusted_url(url, SETTINGS, "property test")
    for candidate in (url, rebuilt):
        try:
            sent = _where_requests_connects(candidate)
        except Exception as exc:  # requests would refuse it too: no secret leaves, but the check should have
            FIGURES["disagreements"] += 1
            raise AssertionError(f"accepted {url!r} but requests cannot send it: {exc!r}") from None
        if sent != expected or not all(is_allowed_host(host, SETTINGS) for host, _ in sent):
            FIGURES["disagreements"] += 1
            raise AssertionError(f"{url!r}: check read {expected}, requests would connect to {sent}")
    assert urlsplit(rebuilt).scheme == "https" and "@" not in urlsplit(rebuilt).netloc and "\\" not in rebuilt


@pytest.fixture(scope="module", autouse=True)
def report_figures() -> Iterator[None]:
    yield
    ARTIFACT.parent.mkdir(exist_ok=True)
    figures = {k: FIGURES[k] for k in ("tried", "refused", "accepted", "disagreements")}
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nURL property figures: {figures}")


@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(urls())
def test_generated_urls_are_refused_or_judged_alike(url: str) -> None:
    _judge(url)


@settings(max_examples=1500, deadline=None, database=None)
@given(st.text(max_size=80))
def test_arbitrary_text_is_refused_or_judged_alike(url: str) -> None:
    _judge(url)


@settings(max_examples=3000, deadline=None, database=None)
@given(
    st.sampled_from(["https://"]),
    st.sampled_from(HOSTS),
    st.none() | st.integers(1, 65535),
    st.lists(st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from(TRICKY), max_size=20).map(
        "".join
    ),
)
def test_mostly_valid_urls_are_refused_or_judged_alike(scheme: str, host: str, port: int | None, rest: str) -> None:
    _judge(f"{scheme}{host}{'' if port is None else f':{port}'}/{rest}")


@settings(max_examples=2000, deadline=None, database=None)
@given(
    st.lists(st.text(alphabet="abcxyz019-", min_size=1, max_size=5), min_size=0, max_size=5),
    st.sampled_from([
        *SALESFORCE_LOGIN_HOSTS, *(suffix.lstrip(".") for suffix in MY_DOMAIN_SUFFIXES), "salesforce.com",
        "force.com", "my.site.com", "salesforce-sites.com", "cloudforce.com", "salesforce.mil", "evil.test",
        "salesforce.com.evil.test", "sf-proxy.example.com",
    ]),
    st.booleans(),
    st.booleans(),
)
def test_host_allow_list_matches_whole_labels(labels: list[str], domain: str, trailing_dot: bool,
                                              upper: bool) -> None:
    """Secrets go only to the two login hosts, My Domain hosts (``<name>.my.salesforce.com|mil``) and listed hosts:
    never Sites or Experience Cloud hosts, never a host that merely ends with the same letters."""
    host = ".".join([*labels, domain]) + ("." if trailing_dot else "")
    host = host.upper() if upper else host
    parts = host.lower().rstrip(".").split(".")
    my_domains = [suffix.lstrip(".").split(".") for suffix in MY_DOMAIN_SUFFIXES]
    oracle = (
        ".".join(parts) in SALESFORCE_LOGIN_HOSTS
        or (len(parts) > 3 and parts[-3:] in my_domains)
        or (len(parts) > 3 and parts[-3:] == ["sf-proxy", "example", "com"])
    )
    assert is_allowed_host(host, SETTINGS) == oracle, host
