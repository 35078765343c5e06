"""The Delete/Reset confirmation form posts to the connection it names, whatever characters its id holds.

Airflow's REST API and ``Connection()`` refuse ids with ``?`` or ``%``, but a secrets backend, an SQL insert or an
older Airflow can hold them (``#`` is allowed by ``Connection()``). Unescaped in the form's action URL, ``?`` and
``#`` end the path, and ``%41`` is read back as ``A``: the form would post elsewhere. Checked over HTTP and in a
browser against a real api-server; the audit log says which connection was acted on.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urljoin

import pytest

from airflow_provider_sf360.testing import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_USER_ID,
    SalesforceEmulator,
)
from tests.helpers.api_server import ApiServer

from .fleet_helpers import csrf_of

pytestmark = pytest.mark.timeout(240)
AWKWARD_IDS = ("sf360_esc?x=1", "sf360_esc#frag", "sf360_esc%41")
DECOYS = ("sf360_esc", "sf360_escA")  # where an unescaped form would post instead
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


@pytest.fixture
def awkward_connections(api_server: ApiServer, emu: SalesforceEmulator) -> Iterator[tuple[str, ...]]:
    """sf360 connections with ``?``, ``#`` and ``%`` in their ids (and the decoys), written straight to the DB."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    ids = (*AWKWARD_IDS, *DECOYS)
    extra = json.dumps({"org_id": DEFAULT_ORG_ID, "user_id": DEFAULT_USER_ID, "login_url": emu.login_url})
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id.in_(ids)))
        for conn_id in ids:
            conn = Connection(conn_id="placeholder", conn_type="sf360", login=DEFAULT_CONSUMER_KEY,
                              password=DEFAULT_CONSUMER_SECRET, extra=extra)
            conn.conn_id = conn_id  # what Connection() would refuse, as a backend or SQL could hold it
            session.add(conn)
    yield AWKWARD_IDS
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id.in_(ids)))


def _reset_entries() -> list[str]:
    """The connection ids of the ``sf360.reset`` audit entries, oldest first."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(Log).where(Log.event == "sf360.reset").order_by(Log.id)).all()
        return [json.loads(row.extra or "{}").get("conn_id") for row in rows]


def _confirm_url(api_server: ApiServer, conn_id: str, action: str = "reset") -> str:
    return f"{api_server.url}/sf360/connections/{quote(conn_id, safe='')}/{action}/confirm"


@pytest.mark.parametrize("action", ["reset", "delete"])
def test_the_confirm_form_escapes_question_marks_hashes_and_percents(
    api_server: ApiServer, awkward_connections: tuple[str, ...], action: str
) -> None:
    admin = api_server.session("admin")
    for conn_id in awkward_connections:
        page = admin.get(_confirm_url(api_server, conn_id, action), timeout=30)
        assert page.status_code == 200, (conn_id, page.text[:500])
        match = FORM_ACTION.search(page.text)
        assert match, page.text[:2000]
        assert urljoin(page.url, html.unescape(match.group(1))) == (
            f"{api_server.url}/sf360/connections/{quote(conn_id, safe='')}/{action}"
        )


def test_the_reset_form_posts_to_the_connection_it_names(
    api_server: ApiServer, awkward_connections: tuple[str, ...]
) -> None:
    admin = api_server.session("admin")
    before = len(_reset_entries())
    for conn_id in awkward_connections:
        page = admin.get(_confirm_url(api_server, conn_id), timeout=30)
        action = urljoin(page.url, html.unescape(FORM_ACTION.search(page.text).group(1)))  # type: ignore[union-attr]
        answer = admin.post(action, data={"csrf_token": csrf_of(page.text), "confirm": "yes"},
                            allow_redirects=False, timeout=60)
        assert answer.status_code == 303, (conn_id, answer.status_code, answer.text[:300])
    assert _reset_entries()[before:] == list(awkward_connections)


def test_the_old_delete_address_redirects_to_the_escaped_confirmation(
    api_server: ApiServer, awkward_connections: tuple[str, ...]
) -> None:
    admin = api_server.session("admin")
    for conn_id in awkward_connections:
        answer = admin.get(f"{api_server.url}/sf360/connections/{quote(conn_id, safe='')}/delete",
                           allow_redirects=False, timeout=30)
        assert answer.status_code == 303
        assert urljoin(answer.url, answer.headers["location"]) == _confirm_url(api_server, conn_id, "delete")


def test_in_a_browser_the_reset_button_acts_on_the_connection_it_names(
    admin_page: Any, api_server: ApiServer, awkward_connections: tuple[str, ...]
) -> None:
    before = len(_reset_entries())
    for conn_id in awkward_connections:
        admin_page.goto(_confirm_url(api_server, conn_id))
        with admin_page.expect_navigation():
            admin_page.get_by_role("button", name="Reset the token").click()
        assert admin_page.url == f"{api_server.url}/sf360/"
    assert _reset_entries()[before:] == list(awkward_connections)
