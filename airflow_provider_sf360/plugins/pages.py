"""Server-rendered HTML of the "Salesforce 360" page: plain forms (keyboard friendly), light and dark themes.

Every value is HTML-escaped; nothing secret is ever passed in (rows come from ``hook.status()``).
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from airflow_provider_sf360.store.connections import ConnectionRow

STATUS_LABELS = {
    "not_set_up": "not set up",
    "active": "active",
    "expired": "expired",
    "revoked": "revoked",
    "identity_mismatch": "identity mismatch",
}

_CSS = """
:root{color-scheme:light;--bg:#fff;--fg:#1a202c;--muted:#4a5568;--border:#e2e8f0;--head:#f7fafc;
--accent:#017cee;--accent-fg:#fff;--ok-bg:#e6f6ec;--ok-fg:#1c6b3a;--err-bg:#fdecec;--err-fg:#9b1c1c;
--warn-bg:#fff6e0;--warn-fg:#8a5a00;--gray-bg:#edf2f7;--gray-fg:#4a5568;--focus:#3182ce}
:root[data-theme=dark]{color-scheme:dark;--bg:#111317;--fg:#e2e8f0;--muted:#a0aec0;--border:#2d3748;
--head:#1a1d23;--accent:#51a7f9;--accent-fg:#0b1220;--ok-bg:#163a26;--ok-fg:#9ae6b4;--err-bg:#3f1d1d;
--err-fg:#feb2b2;--warn-bg:#3d2f0e;--warn-fg:#f6e05e;--gray-bg:#2d3748;--gray-fg:#cbd5e0;--focus:#90cdf4}
*{box-sizing:border-box}
body{margin:0;padding:24px;background:var(--bg);color:var(--fg);
font:14px/1.5 Inter,-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
h1{font-size:24px;margin:0 0 4px}p.lead{color:var(--muted);margin:0 0 16px}
a{color:var(--accent)}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
.skip{position:absolute;left:-999px}.skip:focus{left:24px;top:8px;background:var(--bg);padding:4px}
.flash{padding:10px 14px;border-radius:6px;margin:0 0 16px;border:1px solid var(--border)}
.flash.ok{background:var(--ok-bg);color:var(--ok-fg)}.flash.err{background:var(--err-bg);color:var(--err-fg)}
.callback{border:1px solid var(--border);border-radius:6px;padding:10px 14px;margin:0 0 16px;background:var(--head)}
table{width:100%;border-collapse:collapse;border:1px solid var(--border);border-radius:6px}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid var(--border);vertical-align:top}
th{background:var(--head);font-weight:600;font-size:13px;color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.b-active{background:var(--ok-bg);color:var(--ok-fg)}.b-not_set_up{background:var(--gray-bg);color:var(--gray-fg)}
.b-expired{background:var(--warn-bg);color:var(--warn-fg)}.b-revoked,.b-identity_mismatch,.b-invalid{
background:var(--err-bg);color:var(--err-fg)}
.actions{display:flex;flex-wrap:wrap;gap:6px}.actions form{margin:0}
button,.button{font:inherit;font-size:13px;padding:5px 12px;border-radius:6px;border:1px solid var(--border);
background:var(--bg);color:var(--fg);cursor:pointer;text-decoration:none;display:inline-block}
button.primary{background:var(--accent);color:var(--accent-fg);border-color:var(--accent)}
button.danger,.button.danger{color:var(--err-fg);border-color:var(--err-fg)}
button:hover,.button:hover{filter:brightness(.95)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.err-text{color:var(--err-fg);white-space:pre-wrap}.muted{color:var(--muted)}
"""

_THEME_JS = """(function(){try{var t=localStorage.getItem('theme');
if(t!=='light'&&t!=='dark'){t=matchMedia('(prefers-color-scheme: dark)').matches?'dark':'light'}
document.documentElement.setAttribute('data-theme',t)}catch(e){}})();"""


def _when(epoch: Any) -> str:
    if not epoch:
        return "never"
    try:
        moment = dt.datetime.fromtimestamp(float(epoch), tz=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return "unknown"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def layout(title: str, body: str) -> str:
    """A full HTML document with the page's styles and theme detection."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><script>{_THEME_JS}</script><style>{_CSS}</style></head>"
        f'<body><a class="skip" href="#main">Skip to content</a><main id="main">{body}</main></body></html>'
    )


def _flash(flash: tuple[bool, str] | None) -> str:
    if flash is None:
        return ""
    ok, message = flash
    role = "status" if ok else "alert"
    return f'<div class="flash {"ok" if ok else "err"}" role="{role}" data-testid="flash">{escape(message)}</div>'


def _button(url: str, label: str, csrf: str, css: str = "") -> str:
    return (
        f'<form method="post" action="{escape(url)}"><input type="hidden" name="csrf_token" value="{escape(csrf)}">'
        f'<button type="submit" class="{css}">{escape(label)}</button></form>'
    )


def _actions(row: ConnectionRow, urls: dict[str, str], csrf: str) -> str:
    parts = []
    if row.error is None:
        parts += [
            _button(urls["setup"], "Set up OAuth token", csrf, "primary"),
            _button(urls["reset"], "Reset", csrf),
            _button(urls["test"], "Test Access", csrf),
        ]
    parts.append(f'<a class="button danger" href="{escape(urls["delete"])}">Delete</a>')
    return f'<div class="actions">{"".join(parts)}</div>'


def _last_test(record: dict[str, Any] | None) -> str:
    if not record:
        return '<span class="muted">not tested</span>'
    ok = bool(record.get("ok"))
    label = "succeeded" if ok else "failed"
    return (
        f'<span class="badge {"b-active" if ok else "b-revoked"}">{label}</span> '
        f"{escape(str(record.get('message', '')))}"
    )


def _row(row: ConnectionRow, urls: dict[str, str], csrf: str) -> str:
    cid = escape(row.conn_id)
    if row.error is not None:
        return (
            f'<tr data-conn-id="{cid}"><th scope="row">{cid}</th>'
            f'<td colspan="8"><span class="badge b-invalid" data-field="status">invalid connection</span>'
            f'<div class="err-text">{escape(row.error)}</div>'
            f'<a href="{escape(urls["edit"])}">Edit the connection</a></td>'
            f"<td>{_actions(row, urls, csrf)}</td></tr>"
        )
    s = row.status
    status = str(s.get("status", "not_set_up"))
    record = s.get("last_test") or None
    cells = [
        f'<td data-field="org_id"><code>{escape(str(s.get("org_id", "")))}</code></td>',
        f'<td data-field="user_id"><code>{escape(str(s.get("user_id", "")))}</code></td>',
        f'<td data-field="sandbox">{"yes" if s.get("is_sandbox") else "no"}</td>',
        f'<td data-field="flow">{escape(str(s.get("auth_flow", "")))}</td>',
        f'<td><span class="badge b-{escape(status)}" data-field="status">'
        f"{escape(STATUS_LABELS.get(status, status))}</span></td>",
        f'<td data-field="set_up_at">{escape(_when(s.get("set_up_at")))}'
        + (f'<div class="muted">by {escape(str(s["set_up_by"]))}</div>' if s.get("set_up_by") else "")
        + "</td>",
        f'<td data-field="last_tested">{escape(_when(record.get("tested_at") if record else None))}</td>',
        f'<td data-field="last_test">{_last_test(record)}</td>',
    ]
    actions = _actions(row, urls, csrf)
    return f'<tr data-conn-id="{cid}"><th scope="row">{cid}</th>{"".join(cells)}<td>{actions}</td></tr>'


def list_page(
    rows: list[ConnectionRow],
    row_urls: dict[str, dict[str, str]],
    callback_url: str,
    csrf: str,
    flash: tuple[bool, str] | None,
    connections_url: str,
) -> str:
    """The page listing every ``sf360`` connection with its four actions."""
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in (
            "Connection", "Org ID", "User ID", "Sandbox", "Flow", "Token status", "Set up", "Last tested",
            "Last test result", "Actions",
        )
    )
    if rows:
        body = "".join(_row(r, row_urls[r.conn_id], csrf) for r in rows)
    else:
        body = (
            f'<tr><td colspan="10">No connection of type <code>sf360</code> yet. '
            f'<a href="{escape(connections_url)}">Add one</a> (type "Salesforce 360 (OAuth)").</td></tr>'
        )
    content = (
        "<h1>Salesforce 360</h1>"
        '<p class="lead">Set up, reset, test or delete the Salesforce OAuth token of each '
        f'<code>sf360</code> connection. Edit the fields on the <a href="{escape(connections_url)}">Connections</a> '
        "page.</p>"
        f"{_flash(flash)}"
        '<div class="callback"><strong>Callback URL</strong> for the Salesforce Connected App '
        "(OAuth settings &gt; Callback URL), used by <em>Set up OAuth token</em> on this page: "
        f'<code data-testid="callback-url">{escape(callback_url)}</code></div>'
        f'<table aria-label="sf360 connections"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
    return layout("Salesforce 360", content)


def delete_page(conn_id: str, post_url: str, back_url: str, csrf: str) -> str:
    """The confirmation step of Delete."""
    cid = escape(conn_id)
    content = (
        f"<h1>Delete the OAuth credentials of {cid}?</h1>"
        '<p class="lead">This revokes the token at Salesforce, removes the stored token and clears the '
        "connection's own secret fields (Consumer Secret, Private Key, Refresh Token). The Org ID, User ID and "
        "the other settings stay. This cannot be undone.</p>"
        f'<div class="actions"><form method="post" action="{escape(post_url)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf)}">'
        '<input type="hidden" name="confirm" value="yes">'
        '<button type="submit" class="danger" autofocus>Delete permanently</button></form>'
        f'<a class="button" href="{escape(back_url)}">Cancel</a></div>'
    )
    return layout(f"Delete {conn_id}", content)


def error_page(title: str, message: str, link_url: str, link_label: str) -> str:
    """A short error page (401 with a sign-in link, 403, 404)."""
    content = (
        f"<h1>{escape(title)}</h1>"
        f'<p class="lead" role="alert">{escape(message)}</p><a href="{escape(link_url)}">{escape(link_label)}</a>'
    )
    return layout(title, content)
