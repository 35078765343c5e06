"""Plain records of the emulated Salesforce: hosts, token families, access tokens, codes, results.

No behaviour here (that is :mod:`state`); these are the values the world keeps and hands out.
Token rules they stand for: salesforce.md section 6 (a refresh token lineage is a "token family"),
section 4 (revoking a refresh token revokes its access tokens), section 12 (sandbox refresh).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_sf360.core.ids import to18

_B62 = string.ascii_letters + string.digits


def random_id(prefix: str) -> str:
    """A new random 18-character ID with a key prefix (salesforce.md section 8).

    :param prefix: the key prefix, e.g. ``00D`` (Organization) or ``005`` (User).
    """
    return to18(prefix + "".join(secrets.choice(_B62) for _ in range(15 - len(prefix))))


class OAuthError(Exception):
    """A token-endpoint style error: HTTP ``status`` with JSON ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Host:
    """One emulated host. ``kind``: ``login`` (production), ``test`` (sandbox) or ``mydomain``."""

    kind: str
    my_domain: str = ""

    @property
    def key(self) -> str:
        """The host's key in the emulator (``login``, ``test`` or ``mydomain:<name>``)."""
        return f"mydomain:{self.my_domain}" if self.kind == "mydomain" else self.kind


@dataclass
class Family:
    """One approval: a refresh token lineage (salesforce.md section 6 "token family").

    ``last_used`` is the time of the last redemption of its refresh token (the "expire if unused
    for N" policy of section 7 counts from it).
    """

    family_id: str
    app_key: str
    user_id: str
    org_id: str
    scope: str
    host_key: str
    created: float
    last_used: float
    current_rt: str
    active: bool = True


@dataclass
class AccessToken:
    """An issued access token (a session, salesforce.md section 5: dead sessions get 401)."""

    value: str
    app_key: str
    user_id: str
    org_id: str
    scope: str
    issued: float
    id_url: str
    family_id: str = ""
    active: bool = True


@dataclass
class AuthCode:
    """An authorization code of the web server flow (single-use, short-lived: section 2.1)."""

    value: str
    app_key: str
    user_id: str
    redirect_uri: str
    challenge: str
    scope: str
    host_key: str
    created: float
    used: bool = False


@dataclass(frozen=True)
class MintedToken:
    """Everything Salesforce can say about a newly issued access token; each grant's answer picks
    its documented keys from it (see :mod:`answer_shapes`). ``refresh_token`` is empty when none was
    issued; ``issued_at`` is epoch milliseconds as a string (salesforce.md section 3)."""

    access_token: str
    refresh_token: str
    scope: str
    instance_url: str
    id_url: str
    issued_at: str
    signature: str


@dataclass
class SandboxRefresh:
    """Result of :meth:`World.refresh_sandbox` (salesforce.md section 12).

    The Org ID changes; users copied from production keep their User IDs (``kept_user_ids``);
    users that existed only in the sandbox are gone (``removed_user_ids``).
    """

    old_org_id: str
    new_org_id: str
    kept_user_ids: list[str] = field(default_factory=list)
    removed_user_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the control API's answer)."""
        return {"old_org_id": self.old_org_id, "new_org_id": self.new_org_id,
                "kept_user_ids": list(self.kept_user_ids), "removed_user_ids": list(self.removed_user_ids)}
