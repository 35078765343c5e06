"""The Airflow-facing exceptions: plain classes, one per permanent core error, no retries for them."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360 import exceptions
from airflow_provider_sf360.core import errors as core_errors


def _all_core_error_classes() -> list[type[core_errors.SF360Error]]:
    found: list[type[core_errors.SF360Error]] = []
    pending = [core_errors.SF360Error]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(sub for sub in cls.__subclasses__() if sub.__module__ == core_errors.__name__)
    return found


def _instance(cls: type[core_errors.SF360Error]) -> core_errors.SF360Error:
    if issubclass(cls, core_errors.CredentialsInvalidError):
        return cls("sf360_x", ["Salesforce Org ID: missing"])
    return cls("something went wrong")


def test_every_permanent_core_error_has_its_own_airflow_class() -> None:
    for cls in _all_core_error_classes():
        if cls.permanent:
            assert cls in exceptions.AIRFLOW_CLASSES, f"add a no-retry class for {cls.__name__} to exceptions.py"


@pytest.mark.parametrize("core_class", [c for c in _all_core_error_classes() if c.permanent],
                         ids=lambda c: c.__name__)
def test_permanent_errors_fail_the_task_without_retries(core_class: type[core_errors.SF360Error]) -> None:
    error = _instance(core_class)
    marked = exceptions.for_airflow(error)
    assert isinstance(marked, AirflowFailException)
    assert isinstance(marked, core_class)
    assert type(marked).__module__ == exceptions.__name__
    if core_class is not core_errors.SF360Error:
        assert type(marked).__name__ == core_class.__name__
        assert getattr(exceptions, core_class.__name__) is type(marked)  # findable under its public name
    assert str(marked) == str(error) and marked.args == error.args
    assert marked.__dict__ == error.__dict__
    assert exceptions.for_airflow(marked) is marked


def test_attributes_survive() -> None:
    marked = exceptions.for_airflow(core_errors.CredentialsInvalidError("sf360_x", ["a", "b"]))
    assert isinstance(marked, exceptions.CredentialsInvalidError)
    assert marked.conn_id == "sf360_x" and marked.problems == ("a", "b")
    assert marked.reason == "invalid_credentials"


def test_transient_errors_stay_retryable() -> None:
    error = core_errors.SalesforceUnreachableError("Salesforce could not be reached")
    assert exceptions.for_airflow(error) is error
    assert not isinstance(error, AirflowFailException)
    assert exceptions.SalesforceUnreachableError is core_errors.SalesforceUnreachableError


def test_a_new_core_subclass_gets_its_nearest_base_class() -> None:
    class LockedOutError(core_errors.TokenRevokedError):
        pass

    marked = exceptions.for_airflow(LockedOutError("locked"))
    assert isinstance(marked, exceptions.TokenRevokedError) and isinstance(marked, AirflowFailException)
