"""What the provider stores per credential: tokens, identity and status (one JSON document).

Pure module, no Airflow import. Secrets are left out of ``repr`` and of :meth:`TokenState.describe`.
"""

from __future__ import annotations

import json
import time
from dataclasses import MISSING, asdict, dataclass, field, replace
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_sf360.core.errors import TokenStateUnreadableError
from airflow_provider_sf360.core.ids import InvalidSalesforceIdError, canonical_id


class TokenStatus(str, Enum):
    """Status of the stored token; a missing document means "not set up"."""

    NOT_SET_UP = "not_set_up"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    IDENTITY_MISMATCH = "identity_mismatch"


@dataclass(frozen=True)
class TokenResponse:
    """A successful answer of Salesforce's token endpoint (it carries no ``expires_in``)."""

    access_token: str = field(repr=False)
    instance_url: str
    identity_url: str
    issued_at: float
    refresh_token: str | None = field(default=None, repr=False)
    scope: str = ""
    signature: str | None = field(default=None, repr=False)

    @property
    def org_and_user(self) -> tuple[str, str] | None:
        """Org and User IDs (canonical 18 characters) from the identity URL path; the host is ignored."""
        return identity_from_url(self.identity_url)


def identity_from_url(identity_url: str) -> tuple[str, str] | None:
    """Parse ``…/id/<org>/<user>`` into canonical IDs, or None when it is not an identity URL."""
    parts = [p for p in urlsplit(identity_url).path.split("/") if p]
    if len(parts) < 3 or parts[-3] != "id":
        return None
    try:
        return canonical_id(parts[-2]), canonical_id(parts[-1])
    except InvalidSalesforceIdError:
        return None


# What each stored field may hold, by its annotation (``status`` is checked against :class:`TokenStatus`).
_STORED_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "float": (int, float),
    "int": (int,),
    "tuple[str, ...]": (list, tuple),
}


def _unreadable(why: str) -> TokenStateUnreadableError:
    return TokenStateUnreadableError(
        f"The stored OAuth token state could not be read: {why}. It was not written by this provider version or "
        "was edited; reset the OAuth token (the 'Reset' action or `sf360 reset`), then set it up again."
    )


@dataclass(frozen=True)
class TokenState:
    """The stored token of one credential (org, user and app)."""

    status: TokenStatus
    access_token: str = field(repr=False)
    instance_url: str
    identity_url: str
    org_id: str
    user_id: str
    auth_flow: str
    issued_at: float
    expires_at: float
    generation: int = 1
    refresh_token: str | None = field(default=None, repr=False)
    username: str | None = None
    set_up_at: float = 0.0
    set_up_by: str | None = None
    status_detail: str | None = None
    seed_hash: str | None = None  # refresh_token flow: which seed from the connection was redeemed
    # Fingerprint of the refresh token whose grant was sent and not yet answered (written before sending, cleared
    # with the answer): if it is still here, a renewal crashed or lost its answer, and the token must be checked
    # before it is presented again (it may have been consumed).
    unconfirmed_grant: str | None = None
    set_up_for: str | None = None  # the connection id this token was last set up for (finds orphans)
    # When the refresh token was last redeemed or issued (apps may expire a refresh token unused for N days).
    refresh_used_at: float = 0.0
    rotated_at: float = 0.0  # when a refresh last returned a new refresh token (0: rotation never seen)
    # The last renewal that failed without ending the token (an admin setting, the network): shown on the page.
    last_failure: str | None = None
    last_failure_at: float = 0.0
    # Fingerprint of the app (consumer key and login URL) the token was issued to: a connection whose app fields
    # were edited since no longer uses it.
    app: str | None = None
    # Connections an admin allowed to use this connection's token (each a link Variable, see TokenLink).
    shared_with: tuple[str, ...] = ()
    scope: str = ""  # the scopes Salesforce granted (space-separated)

    def seconds_left(self, now: float | None = None) -> float:
        return self.expires_at - (time.time() if now is None else now)

    def is_usable(self, margin: float, now: float | None = None) -> bool:
        """True when active and not within ``margin`` seconds (at most a fifth of its lifetime) of its end."""
        margin = max(0.0, min(margin, (self.expires_at - self.issued_at) / 5))  # a clock ahead: never negative
        return self.status is TokenStatus.ACTIVE and self.seconds_left(now) > margin

    def with_status(self, status: TokenStatus, detail: str | None = None) -> TokenState:
        return replace(self, status=status, status_detail=detail)

    def to_json(self) -> str:
        data = asdict(self)
        data["status"] = self.status.value
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TokenState:
        """Read a stored state; raises :class:`TokenStateUnreadableError` (never a raw TypeError, KeyError or
        ValueError) when the text is not a state the provider wrote.

        :param text: the JSON document of the token Variable.
        """
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise _unreadable("it is not JSON") from None
        if not isinstance(data, dict):
            raise _unreadable(f"it is a JSON {type(data).__name__}, not an object")
        fields = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in fields}
        for name, spec in fields.items():
            if name not in values:
                if spec.default is MISSING and spec.default_factory is MISSING:
                    raise _unreadable(f"{name!r} is missing")
                continue
            kinds = _STORED_KINDS.get(str(spec.type))
            value = values[name]
            if kinds and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise _unreadable(f"{name!r} is not {str(spec.type).replace(' | None', ' or null')}")
            if isinstance(value, list):
                if not all(isinstance(item, str) for item in value):
                    raise _unreadable(f"{name!r} is not a list of connection ids")
                values[name] = tuple(value)
        try:
            values["status"] = TokenStatus(values["status"])
        except (ValueError, TypeError):
            raise _unreadable(f"status {str(values['status'])[:40]!r} is unknown") from None
        return cls(**values)

    def describe(self) -> dict[str, Any]:
        """Non-secret summary for logs, XComs and pages."""
        return {
            "shared_with": list(self.shared_with),
            "status": self.status.value,
            "org_id": self.org_id,
            "user_id": self.user_id,
            "username": self.username,
            "instance_url": self.instance_url,
            "auth_flow": self.auth_flow,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "generation": self.generation,
            "set_up_at": self.set_up_at,
            "set_up_by": self.set_up_by,
            "status_detail": self.status_detail,
            "set_up_for": self.set_up_for,
            "refresh_used_at": self.refresh_used_at,
            "rotated_at": self.rotated_at,
            "last_failure": self.last_failure,
            "last_failure_at": self.last_failure_at,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class TokenLink:
    """What a connection's token Variable holds when another connection shared its token with it on purpose.

    The link alone grants nothing: the owner's state must also list this connection in ``shared_with`` (both
    are written by the share action, which needs the right to edit both connections).
    """

    shared_from: str

    def to_json(self) -> str:
        return json.dumps({"shared_from": self.shared_from})


def read_stored(text: str) -> TokenState | TokenLink:
    """A token Variable's document: a state, or a link to the connection whose token it shares.

    :param text: the Variable's value.
    :raises TokenStateUnreadableError: it is neither.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _unreadable("it is not JSON") from None
    if isinstance(data, dict) and set(data) == {"shared_from"}:
        if not isinstance(data["shared_from"], str) or not data["shared_from"]:
            raise _unreadable("its 'shared_from' is not a connection id")
        return TokenLink(data["shared_from"])
    return TokenState.from_json(text)
