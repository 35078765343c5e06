"""Who may sign in from where and when: login IP ranges, login hours, the app's refresh-token IP allowlist.

Salesforce answers these refusals at the token endpoint with ``invalid_grant`` and **does not revoke** anything:
an admin fixes the policy (or the worker's egress IP) and the same refresh token works again (salesforce.md
section 5 table; forceworkbench#772; sfdx-actions/setup-sfdx#17 "Error authenticating with the refresh token
due to: ip restricted"). The descriptions:

- ``ip restricted or invalid login hours``: Salesforce's OAuth error list (help remoteaccess_oauth_user_agent_flow:
  "invalid_grant - IP restricted or invalid login hours"; public client code compares the lower-case string the
  server sends) for a user outside the profile's Login IP Ranges or Login Hours.
- ``ip restricted``: the Salesforce CLI's troubleshooting page ("Error authenticating with auth code due to: ip
  restricted") and setup-sfdx#17 (refresh token). Which cause gives the short form is not documented; the
  emulator uses it for the app's refresh-token IP allowlist (an emulator choice, see docs/emulator.md).

Which grants are checked (help xcloud.connected_app_continuous_ip.htm, "Connected App IP Relaxation and
Continuous IP Enforcement"): the app's IP Relaxation policy decides whether a user's IP ranges apply (``enforce``),
apply except when a refresh token is redeemed (``relax_for_refresh_tokens``) or do not apply (``relax``); the
JWT bearer flow "always enforce[s] IP restrictions regardless of the connected app policy". Login hours are not
an IP restriction and are never relaxed (emulator reading of the same page). The client credentials flow runs as
the app's run-as user, who is subject to the same policies (no source says otherwise; assumed).
"""

from __future__ import annotations

import ipaddress

from airflow_provider_sf360.testing.config import AppConfig, UserConfig
from airflow_provider_sf360.testing.records import OAuthError
from airflow_provider_sf360.testing.state import World

#: The description for a user kept out by the profile's Login IP Ranges or Login Hours.
LOGIN_RESTRICTED = "ip restricted or invalid login hours"
#: The description for a caller outside the app's refresh-token IP allowlist.
IP_RESTRICTED = "ip restricted"


def login_refusal(world: World, app: AppConfig, user: UserConfig, grant: str) -> OAuthError | None:
    """The refusal for ``user`` signing in to ``app`` with ``grant``, or ``None`` when allowed.

    :param world: the emulated Salesforce.
    :param app: the connected app.
    :param user: the user the grant would act as (the run-as user for client credentials).
    :param grant: ``authorization_code``, ``refresh_token``, ``jwt_bearer``, ``client_credentials`` or
        ``authorize`` (the interactive login).
    """
    reason = world.login_restrictions.get(user.user_id)
    if reason is None:
        return None
    if reason == "login_ip_ranges" and _ip_ranges_relaxed(app, grant):
        return None
    return OAuthError("invalid_grant", LOGIN_RESTRICTED)


def _ip_ranges_relaxed(app: AppConfig, grant: str) -> bool:
    if grant == "jwt_bearer":
        return False
    if app.ip_relaxation == "relax":
        return True
    return app.ip_relaxation == "relax_for_refresh_tokens" and grant == "refresh_token"


def refresh_ip_refusal(app: AppConfig, client_ip: str) -> OAuthError | None:
    """The refusal for redeeming a refresh token of ``app`` from ``client_ip``, or ``None`` when allowed.

    :param app: the connected app (its ``refresh_token_ip_allowlist``; empty = no allowlist).
    :param client_ip: the caller's address (127.0.0.1 for every emulator client).
    """
    if not app.refresh_token_ip_allowlist:
        return None
    address = ipaddress.ip_address(client_ip)
    if any(address in ipaddress.ip_network(cidr, strict=False) for cidr in app.refresh_token_ip_allowlist):
        return None
    return OAuthError("invalid_grant", IP_RESTRICTED)
