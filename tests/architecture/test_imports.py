"""Imports stand at the top of each module; the few inside functions are listed here with their reason
(docs/architecture.md, "Local imports, and why"), and importing the hook or the operators stays cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_sf360"

# (module, imported module): why it is imported inside a function.
LOCAL_IMPORTS = {
    ("hooks/sf360.py", "simple_salesforce"): "~0.4 s with zeep; DAG files import the hook at parse time",
    ("hooks/sf360.py", "airflow_provider_sf360.core.oauth_client"): "requests (~36 ms) only where Salesforce is called",
    ("hooks/sf360.py", "airflow_provider_sf360.core.salesforce_session"): "requests, likewise",
    ("service/fleet.py", "airflow_provider_sf360.core.oauth_client"): "requests, only when a token is revoked",
    ("core/grants.py", "jwt"): "PyJWT (~27 ms), only for JWT connections",
    ("core/credentials.py", "cryptography.hazmat.primitives.asymmetric.rsa"): "only for JWT connections",
    ("core/credentials.py", "cryptography.hazmat.primitives.serialization"): "only for JWT connections",
    ("core/hosts.py", "requests.models"): "requests and urllib3 (~50 ms), only when a URL is checked",
    ("core/hosts.py", "urllib3.util"): "likewise",
    ("plugins/sf360_ui.py", "airflow_provider_sf360.plugins.app"): "task processes import every plugin; only the "
    "api-server builds the app",
    ("cli/main.py", "webbrowser"): "only `sf360 setup` opens a browser",
}
HEAVY = ("simple_salesforce", "requests_oauthlib", "oauthlib", "jwt", "zeep", "pandas", "requests")


def _local_imports() -> set[tuple[str, str]]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = str(path.relative_to(PACKAGE))
        if relative.startswith("testing/"):
            continue  # the emulator, shipped for users' tests
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and node.module:
                        found.add((relative, node.module))
                    elif isinstance(node, ast.Import):
                        found.update((relative, alias.name) for alias in node.names)
    return found


def test_every_import_inside_a_function_has_its_reason() -> None:
    unexplained = sorted(_local_imports() - set(LOCAL_IMPORTS))
    assert not unexplained, f"move these imports to the top, or list them with their reason: {unexplained}"
    stale = sorted(set(LOCAL_IMPORTS) - _local_imports())
    assert not stale, f"listed but no longer local: {stale}"


def test_importing_the_hook_and_operators_loads_no_heavy_module() -> None:
    code = ("import sys, airflow_provider_sf360.hooks.sf360, airflow_provider_sf360.operators.oauth; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip().splitlines()[-1] == "[]"
