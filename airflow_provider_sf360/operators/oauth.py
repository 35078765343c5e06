"""Operators for the four OAuth actions: thin adapters over ```SF360Actions``` (which audits each one).

Each returns a JSON-serialisable dict without secrets (pushed as the ``return_value`` XCom) and fails the
task, without retries for permanent causes, when the action did not succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360.core.connection_type import DEFAULT_CONN_ID
from airflow_provider_sf360.core.lifecycle import ActionResult
from airflow_provider_sf360.service.actions import SF360Actions
from airflow_provider_sf360.service.audit import AirflowAuditLog

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "SF360DeleteOAuthOperator",
    "SF360ResetOAuthOperator",
    "SF360SetupOAuthOperator",
    "SF360TestAccessOperator",
]


class _SF360ActionOperator(BaseOperator):
    """Runs one action of ``SF360Actions`` and turns its result into an XCom, or a failed task.

    :param sf360_conn_id: the ``sf360`` connection to act on (templated); default ``sf360_default``.
    :param kwargs: the usual ``BaseOperator`` arguments (``task_id``, ``retries``...).
    """

    template_fields: Sequence[str] = ("sf360_conn_id",)
    ui_color = "#e3f1fc"

    def __init__(self, *, sf360_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sf360_conn_id = sf360_conn_id

    def run_action(self, actions: SF360Actions) -> ActionResult:
        """Run this operator's action; subclasses implement it.

        :param actions: the actions of ``sf360_conn_id``, audited as this task.
        :return: the action's result; ``ok`` False fails the task.
        """
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        """Run the action and return its result as the ``return_value`` XCom (never a secret).

        :param context: the task's Airflow context (not used: everything comes from the connection).
        :return: ``ActionResult.to_dict()``: ``action``, ``conn_id``, ``ok``, ``status``, ``message`` and details.
        :raises AirflowFailException: when the action did not succeed (no retries: a person must act).
        :raises SF360Error: from the action; permanent causes are ``AirflowFailException`` subclasses (no
            retries), ``SalesforceUnreachableError`` may be retried by Airflow.
        """
        actions = SF360Actions(self.sf360_conn_id, audit=AirflowAuditLog.for_task(context))
        result = self.run_action(actions)
        self.log.info("%s: %s", result.action, result.message)
        if not result.ok:
            raise AirflowFailException(result.message)
        return result.to_dict()


class SF360SetupOAuthOperator(_SF360ActionOperator):
    """Set up the OAuth token by the connection's flow, verifying that it belongs to the connection's org and user.

    For ``jwt_bearer``, ``client_credentials`` and ``refresh_token`` no person is needed. For
    ``authorization_code`` pass ``authorization_response`` (the URL Salesforce redirected to after a sign-in
    started with ``SF360Actions.start_authorization()``); without it the task fails with the URL to open.

    :param authorization_response: ``authorization_code`` only: the callback URL with ``code`` and ``state``
        (templated, e.g. ``"{{ params.redirect_url }}"``).
    :param sf360_conn_id: the ``sf360`` connection to set up (templated); default ``sf360_default``.
    :param kwargs: the usual ``BaseOperator`` arguments.
    """

    template_fields: Sequence[str] = ("sf360_conn_id", "authorization_response")

    def __init__(self, *, authorization_response: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.authorization_response = authorization_response

    def run_action(self, actions: SF360Actions) -> ActionResult:
        """Set up the token; an ``authorization_code`` connection without a response fails with the URL to open.

        :param actions: the actions of ``sf360_conn_id``, audited as this task.
        :return: the setup's result, recorded as set up by this task.
        """
        result = actions.setup(authorization_response=self.authorization_response or None)
        if result.status == "authorization_required":
            url = result.details.get("authorize_url")
            return ActionResult(result.action, result.conn_id, False, result.status, f"{result.message} URL: {url}")
        return result


class SF360ResetOAuthOperator(_SF360ActionOperator):
    """Revoke and clear the OAuth token, keeping every connection field.

    :param setup_again: also obtain a new token at once (rotation; machine flows only); default False.
    :param sf360_conn_id: the ``sf360`` connection to reset (templated); default ``sf360_default``.
    :param kwargs: the usual ``BaseOperator`` arguments.
    """

    def __init__(self, *, setup_again: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_again = setup_again

    def run_action(self, actions: SF360Actions) -> ActionResult:
        """Reset the token (and set it up again when ``setup_again``).

        :param actions: the actions of ``sf360_conn_id``, audited as this task.
        :return: the reset's result.
        """
        return actions.reset(setup_again=self.setup_again)


class SF360TestAccessOperator(_SF360ActionOperator):
    """Check that Salesforce accepts the token; fails with the reason (not set up, revoked, mismatch, unreachable).

    :param sf360_conn_id: the ``sf360`` connection to test (templated); default ``sf360_default``.
    :param kwargs: the usual ``BaseOperator`` arguments.
    """

    def run_action(self, actions: SF360Actions) -> ActionResult:
        """Call Salesforce with the token (identity and one REST call; an idle refresh token is kept alive).

        :param actions: the actions of ``sf360_conn_id``, audited as this task.
        :return: org, user, instance, API version, remaining daily API requests and round-trip time.
        """
        return actions.test_access()


class SF360DeleteOAuthOperator(_SF360ActionOperator):
    """Revoke access and refresh tokens at Salesforce and remove the stored token permanently.

    A task cannot edit a Connection in Airflow 3: the connection's own secret fields stay (remove them with the
    Salesforce 360 page's Delete, ``sf360 delete`` or by editing the connection).

    :param sf360_conn_id: the ``sf360`` connection whose token to delete (templated); default ``sf360_default``.
    :param kwargs: the usual ``BaseOperator`` arguments.
    """

    def run_action(self, actions: SF360Actions) -> ActionResult:
        """Revoke and remove the token.

        :param actions: the actions of ``sf360_conn_id``, audited as this task.
        :return: the deletion's result.
        """
        return actions.delete()
