"""The documented keys of each token-endpoint answer, per grant. The emulator sends exactly these.

None of them carries ``expires_in`` (salesforce.md sections 2 and 7). The same shapes, with examples and sources,
are in ``tests/fixtures/salesforce_answers/`` (a test compares the emulator's live answers with them).

- Web server flow (``authorization_code``): ``access_token, refresh_token (only with the refresh_token or
  offline_access scope), signature, scope, id_token (only with openid), instance_url, id, token_type, issued_at``
  (salesforce.md section 2.1; help remoteaccess_oauth_web_server_flow).
- Refresh token flow: ``access_token, refresh_token (only under rotation), signature, scope, instance_url, id,
  token_type, issued_at`` (salesforce.md sections 2.2 and 6). No ``id_token``: the help page's example answer has
  ``openid`` in its scope and no ``id_token`` (help remoteaccess_oauth_refresh_token_flow; the same example as
  salesforce.md section 2.2).
- JWT bearer flow: ``access_token, scope, instance_url, id, token_type`` and nothing else - no ``issued_at``, no
  ``signature``, no refresh token (salesforce.md section 2.3 "Response shape": the help page and the "Salesforce
  Platform APIs" Postman collection, whose example has ``openid`` in the scope and no ``id_token`` either).
- Client credentials flow: ``access_token, signature, scope, instance_url, id, token_type, issued_at`` (salesforce.md
  section 2.4; simple-salesforce PR #662: no refresh token). The Postman collection's example also has
  ``api_instance_url``; Salesforce sends it for apps with the ``sfap_api`` scope (an assumption we could not
  confirm), which no emulated app has, so the emulator does not send it.
"""

from __future__ import annotations

from airflow_provider_sf360.testing.records import MintedToken

#: Keys in the order Salesforce's examples show them.
WEB_SERVER_KEYS = ("access_token", "refresh_token", "signature", "scope", "id_token", "instance_url", "id",
                   "token_type", "issued_at")
REFRESH_KEYS = ("access_token", "refresh_token", "signature", "scope", "instance_url", "id", "token_type",
                "issued_at")
JWT_BEARER_KEYS = ("access_token", "scope", "instance_url", "id", "token_type")
CLIENT_CREDENTIALS_KEYS = ("access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at")


def _all_values(minted: MintedToken, id_token: str = "") -> dict[str, str]:
    return {
        "access_token": minted.access_token, "refresh_token": minted.refresh_token, "signature": minted.signature,
        "scope": minted.scope, "id_token": id_token, "instance_url": minted.instance_url, "id": minted.id_url,
        "token_type": "Bearer", "issued_at": minted.issued_at,
    }


def _pick(values: dict[str, str], keys: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, str]:
    """``keys`` in order; an ``optional`` key only when it has a value."""
    return {k: values[k] for k in keys if k not in optional or values[k]}


def web_server_answer(minted: MintedToken, id_token: str) -> dict[str, str]:
    """The answer of the authorization code grant.

    :param minted: the issued token (``refresh_token`` empty without the refresh scope).
    :param id_token: the OpenID ``id_token`` ("" without the ``openid`` scope).
    """
    return _pick(_all_values(minted, id_token), WEB_SERVER_KEYS, optional=("refresh_token", "id_token"))


def refresh_answer(minted: MintedToken) -> dict[str, str]:
    """The answer of the refresh token grant (a new ``refresh_token`` only under rotation).

    :param minted: the issued token.
    """
    return _pick(_all_values(minted), REFRESH_KEYS, optional=("refresh_token",))


def jwt_bearer_answer(minted: MintedToken) -> dict[str, str]:
    """The answer of the JWT bearer grant.

    :param minted: the issued token.
    """
    return _pick(_all_values(minted), JWT_BEARER_KEYS, optional=())


def client_credentials_answer(minted: MintedToken) -> dict[str, str]:
    """The answer of the client credentials grant.

    :param minted: the issued token.
    """
    return _pick(_all_values(minted), CLIENT_CREDENTIALS_KEYS, optional=())
