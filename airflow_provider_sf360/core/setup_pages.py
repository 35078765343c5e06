"""Where in Salesforce Setup an admin changes each setting the provider's messages mention.

External Client Apps come first (since Spring '26 new orgs create External Client Apps, not Connected Apps);
the Connected App path follows. Sources: help.salesforce.com "Create a Local External Client App"
(xcloud.create_a_local_external_client_app.htm), "External Client App OAuth Settings"
(xcloud.external_client_app_oauth_settings.htm), "Manage OAuth Access Policies for a Connected App"
(xcloud.connected_app_manage_oauth.htm); ``salesforce.md`` section 6 ("Spring '26"). Pure module.
"""

from __future__ import annotations

ECA = "Setup > External Client App Manager > (your app)"
CONNECTED_APP = "Setup > App Manager > (your app)"


def both(eca_path: str, connected_app_path: str) -> str:
    """One phrase naming the External Client App page first and the Connected App page after it.

    :param eca_path: the page under the External Client App (after ``ECA``).
    :param connected_app_path: the page under the Connected App (after ``CONNECTED_APP``).
    """
    return f"{ECA} > {eca_path} (Connected App: {CONNECTED_APP} > {connected_app_path})"


OAUTH_SETTINGS = both("Edit Settings > OAuth Settings", "Edit > API (Enable OAuth Settings)")
PERMITTED_USERS = both(
    "Edit Policies > OAuth Policies > Plugin Policies > Permitted Users: 'Admin approved users are pre-authorized', "
    "then App Policies: add the user's profile or permission set",
    "Manage > Edit Policies > Permitted Users: 'Admin approved users are pre-authorized', then Profiles or "
    "Permission Sets: add the user's",
)
IP_RELAXATION = both(
    "Edit Policies > OAuth Policies > IP Relaxation (and the refresh token IP allowlist)",
    "Manage > Edit Policies > IP Relaxation",
)
LOGIN_IP_RANGES_AND_HOURS = "Setup > Profiles > (the user's profile) > Login IP Ranges / Login Hours"
REFRESH_TOKEN_POLICY = both(
    "Edit Policies > OAuth Policies > Refresh Token Policy", "Manage > Edit Policies > Refresh Token Policy"
)
REQUIRE_SECRET_REFRESH = both(
    "Edit Settings > OAuth Settings > 'Require secret for Refresh Token Flow'",
    "Edit > API (Enable OAuth Settings) > 'Require Secret for Refresh Token Flow'",
)
REQUIRE_SECRET_WEB_SERVER = both(
    "Edit Settings > OAuth Settings > 'Require secret for Web Server Flow'",
    "Edit > API (Enable OAuth Settings) > 'Require Secret for Web Server Flow'",
)
PKCE = both(
    "Edit Settings > OAuth Settings > 'Require Proof Key for Code Exchange (PKCE)'",
    "Edit > API (Enable OAuth Settings) > 'Require Proof Key for Code Exchange (PKCE) Extension'",
)
SCOPES = both(
    "Edit Settings > OAuth Settings > Selected OAuth Scopes",
    "Edit > API (Enable OAuth Settings) > Selected OAuth Scopes",
)
CALLBACK_URL = both(
    "Edit Settings > OAuth Settings > Callback URL", "Edit > API (Enable OAuth Settings) > Callback URL"
)
JWT_CERTIFICATE = both(
    "Edit Settings > OAuth Settings > Flow Enablement: 'Enable JWT Bearer Flow' > upload the certificate",
    "Edit > API (Enable OAuth Settings) > 'Use digital signatures' > Choose File",
)
CLIENT_CREDENTIALS = both(
    "Edit Settings > OAuth Settings > Flow Enablement: 'Enable Client Credentials Flow', then Edit Policies > "
    "OAuth Policies > 'Enable Client Credentials Flow' > Run As (the integration user)",
    "Edit > API (Enable OAuth Settings) > 'Enable Client Credentials Flow', then Manage > Edit Policies > "
    "Client Credentials Flow > Run As",
)
FLOW_ENABLEMENT = both(
    "Edit Settings > OAuth Settings > Flow Enablement", "Edit > API (Enable OAuth Settings)"
)
CONSUMER_KEY_AND_SECRET = both(
    "Settings > OAuth Settings > App Settings > Consumer Key and Secret",
    "Manage Consumer Details",
)
OAUTH_USAGE = "Setup > Connected Apps OAuth Usage (External Client Apps: External Client App Manager > OAuth Usage)"
COMPANY_INFORMATION = "Setup > Company Information (Salesforce.com Organization ID)"
USERS = "Setup > Users (the user's record: its ID is in the URL, 005...)"
