"""Plain, keyboard-usable HTML pages of the authorize flow (salesforce.md section 2.1).

It is an emulator: the login page asks only for a username, no password.
"""

from __future__ import annotations

from html import escape

#: Authorize parameters carried from page to page as hidden fields (salesforce.md section 2.1 table).
AUTHORIZE_PARAMS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
    "code_challenge_method", "login_hint", "prompt", "display",
)

_STYLE = (
    "body{font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em}"
    "button,input{font-size:1em;padding:.4em .8em;margin:.3em 0}.error{color:#b00020}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main><h1>{escape(title)}</h1>{body}"
        '<p><small>sf360 Salesforce emulator - test data only.</small></p></main></body></html>'
    )


def _hidden(params: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(params[k])}">'
        for k in AUTHORIZE_PARAMS
        if params.get(k)
    )


def login_page(action: str, params: dict[str, str], error: str = "") -> str:
    """Username-only login form; POSTs ``sf360_step=login``."""
    err = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    hint = escape(params.get("login_hint", ""))
    return _page(
        "Log in to Salesforce (emulator)",
        f"{err}<form method=\"post\" action=\"{escape(action)}\">{_hidden(params)}"
        '<input type="hidden" name="sf360_step" value="login">'
        '<p><label for="username">Username</label><br>'
        f'<input id="username" name="username" type="text" autocomplete="username" value="{hint}" autofocus required>'
        '</p><p>No password: this is an emulator.</p><button type="submit">Log In</button></form>',
    )


def consent_page(action: str, params: dict[str, str], username: str, app_name: str, scope: str) -> str:
    """Allow / Deny form; POSTs ``sf360_step=consent`` and ``action=allow|deny``."""
    scopes = "".join(f"<li>{escape(s)}</li>" for s in scope.split()) or "<li>(app default scopes)</li>"
    return _page(
        "Allow Access?",
        f"<p><strong>{escape(app_name)}</strong> is asking to access Salesforce as "
        f"<strong>{escape(username)}</strong>:</p><ul>{scopes}</ul>"
        f'<form method="post" action="{escape(action)}">{_hidden(params)}'
        '<input type="hidden" name="sf360_step" value="consent">'
        f'<input type="hidden" name="username" value="{escape(username)}">'
        '<button type="submit" name="action" value="allow" autofocus>Allow</button> '
        '<button type="submit" name="action" value="deny">Deny</button></form>',
    )


def error_page(error: str, description: str) -> str:
    """Salesforce shows bad client_id / redirect_uri on an error page, without redirecting."""
    return _page(
        "OAuth Error",
        f'<p class="error" role="alert">error={escape(error)}</p><p>{escape(description)}</p>',
    )
