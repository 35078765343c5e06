"""Operators for the four OAuth actions: thin wrappers over ``SF360Hook``'s methods.

Each returns a JSON-serialisable dict without secrets (pushed as the ``return_value`` XCom) and fails the
task, without retries for permanent causes, when the action did not succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360.core.lifecycle import ActionResult
from airflow_provider_sf360.hooks.sf360 import SF360Hook


class _SF360ActionOperator(BaseOperator):
    """Runs one hook action and turns its result into an XCom, or a failed task."""

    template_fields: Sequence[str] = ("sf360_conn_id",)
    ui_color = "#e3f1fc"

    def __init__(self, *, sf360_conn_id: str = SF360Hook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sf360_conn_id = sf360_conn_id

    def run_action(self, hook: SF360Hook) -> ActionResult:
        raise NotImplementedError

    def execute(self, context: Any) -> dict[str, Any]:
        hook = SF360Hook(sf360_conn_id=self.sf360_conn_id)
        result = self.run_action(hook)
        self.log.info("%s: %s", result.action, result.message)
        if not result.ok:
            raise AirflowFailException(result.message)
        return result.to_dict()


class SF360SetupOAuthOperator(_SF360ActionOperator):
    """Set up the OAuth token by the connection's flow.

    For ``authorization_code`` pass ``authorization_response`` (the URL Salesforce redirected to after a
    sign-in started with ``SF360Hook.authorization_url()``); without it the task fails with the URL to open.
    """

    template_fields: Sequence[str] = ("sf360_conn_id", "authorization_response")

    def __init__(self, *, authorization_response: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.authorization_response = authorization_response

    def run_action(self, hook: SF360Hook) -> ActionResult:
        result = hook.setup(authorization_response=self.authorization_response or None, set_up_by=self.task_id)
        if result.status == "authorization_required":
            url = result.details.get("authorize_url")
            return ActionResult(result.action, result.conn_id, False, result.status, f"{result.message} URL: {url}")
        return result


class SF360ResetOAuthOperator(_SF360ActionOperator):
    """Revoke and clear the OAuth token, keeping every connection field; ``setup_again`` rotates it."""

    def __init__(self, *, setup_again: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_again = setup_again

    def run_action(self, hook: SF360Hook) -> ActionResult:
        return hook.reset(setup_again=self.setup_again, set_up_by=self.task_id)


class SF360TestAccessOperator(_SF360ActionOperator):
    """Check that Salesforce accepts the token; fails with the reason (not set up, revoked, mismatch, unreachable)."""

    def run_action(self, hook: SF360Hook) -> ActionResult:
        return hook.test_access()


class SF360DeleteOAuthOperator(_SF360ActionOperator):
    """Revoke access and refresh tokens and remove the stored token permanently."""

    def run_action(self, hook: SF360Hook) -> ActionResult:
        return hook.delete()
