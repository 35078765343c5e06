"""The provider's exceptions: one hierarchy (``core/errors.py``), picklable, permanent ones never retried.

``exceptions.py`` re-exports the very classes the core raises (no twins) and makes ``PermanentError`` an Airflow
``AirflowFailException`` on import, so Airflow fails a task without retries when only a person can fix it.
Airflow sends exceptions between processes (task runner, supervisor, triggerer): every error must pickle to the
same class, message and attributes.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_sf360 import exceptions
from airflow_provider_sf360.core import errors as core_errors
from airflow_provider_sf360.core.grants import GrantOutcomeUnknown


def _all_core_error_classes() -> list[type[core_errors.SF360Error]]:
    found: list[type[core_errors.SF360Error]] = []
    pending = [core_errors.SF360Error]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(sub for sub in cls.__subclasses__() if sub.__module__ == core_errors.__name__)
    return sorted(set(found), key=lambda c: c.__name__)


CORE_CLASSES = _all_core_error_classes()


def _instance(cls: type[core_errors.SF360Error]) -> core_errors.SF360Error:
    if issubclass(cls, core_errors.CredentialsInvalidError):
        return cls("sf360_x", ["Salesforce Org ID: missing", "Consumer Key: missing"])
    if issubclass(cls, core_errors.AdminActionRequiredError):
        return cls("an admin must pre-authorize the user", "not_pre_authorized")
    return cls("something went wrong; do this")


def test_every_core_error_class_is_exported_as_the_same_class() -> None:
    assert len(CORE_CLASSES) >= 20
    for cls in CORE_CLASSES:
        assert getattr(exceptions, cls.__name__) is cls, f"{cls.__name__}: export the core class itself"
        assert cls.__name__ in exceptions.__all__
    assert not hasattr(exceptions, "for_airflow") and not hasattr(exceptions, "AIRFLOW_CLASSES")
    assert exceptions.PermanentSF360Error is core_errors.PermanentError  # the name earlier releases exported


@pytest.mark.parametrize("cls", CORE_CLASSES, ids=lambda c: c.__name__)
def test_every_error_pickles_to_the_same_class_message_and_attributes(cls: type[core_errors.SF360Error]) -> None:
    error = _instance(cls)
    error.grant_unresolved = error.grant_unresolved  # an instance attribute as the renewal code sets it
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert type(copy) is cls
        assert str(copy) == str(error) and copy.args == error.args
        assert copy.__dict__ == error.__dict__
        assert copy.reason == error.reason and copy.permanent == error.permanent


PERMANENT_CLASSES = [c for c in CORE_CLASSES if issubclass(c, core_errors.PermanentError)]


@pytest.mark.parametrize("cls", PERMANENT_CLASSES, ids=lambda c: c.__name__)
def test_permanent_errors_fail_the_task_without_retries(cls: type[core_errors.SF360Error]) -> None:
    error = _instance(cls)
    assert isinstance(error, AirflowFailException)
    assert isinstance(pickle.loads(pickle.dumps(error)), AirflowFailException)
    assert error.permanent


def test_attributes_survive_a_round_trip() -> None:
    invalid = pickle.loads(pickle.dumps(core_errors.CredentialsInvalidError("sf360_x", ["a", "b"])))
    assert isinstance(invalid, exceptions.CredentialsInvalidError) and isinstance(invalid, ValueError)
    assert invalid.conn_id == "sf360_x" and invalid.problems == ("a", "b")
    assert invalid.reason == "invalid_credentials"
    assert "2 field(s) need fixing" in str(invalid)

    admin = pickle.loads(pickle.dumps(core_errors.LoginRestrictedError("outside the login IP ranges", "ip_restricted")))
    assert type(admin) is exceptions.LoginRestrictedError
    assert isinstance(admin, exceptions.AdminActionRequiredError)
    assert admin.case == "ip_restricted" and str(admin) == "outside the login IP ranges"

    unknown = pickle.loads(pickle.dumps(core_errors.RefreshOutcomeUnknownError("lost")))
    assert unknown.grant_unresolved is True

    marked = core_errors.SalesforceUnreachableError("timed out")
    marked.grant_unresolved = True  # set on an instance by the renewal code
    assert pickle.loads(pickle.dumps(marked)).grant_unresolved is True

    outcome = pickle.loads(pickle.dumps(GrantOutcomeUnknown("the answer never arrived")))
    assert type(outcome) is GrantOutcomeUnknown and outcome.description == "the answer never arrived"


def test_transient_errors_stay_retryable() -> None:
    error = core_errors.SalesforceUnreachableError("Salesforce could not be reached")
    assert not isinstance(error, AirflowFailException)
    assert not error.permanent
    assert exceptions.SalesforceUnreachableError is core_errors.SalesforceUnreachableError
    assert not isinstance(core_errors.SF360Error("x"), AirflowFailException)


def test_a_new_core_subclass_is_permanent_through_its_base() -> None:
    class LockedOutError(core_errors.TokenRevokedError):
        pass

    error = LockedOutError("locked")
    assert isinstance(error, exceptions.TokenRevokedError) and isinstance(error, AirflowFailException)


def test_errors_rebuilt_from_a_remote_reason_are_the_local_classes() -> None:
    for cls in CORE_CLASSES:
        if cls is core_errors.SF360Error or cls.reason == cls.__mro__[1].__dict__.get("reason"):
            continue
        rebuilt = core_errors.rebuild_error(cls.reason, "from the api-server")
        expected = core_errors.PermanentError if cls is core_errors.CredentialsInvalidError else cls
        assert type(rebuilt) is expected and str(rebuilt) == "from the api-server"
    assert type(core_errors.rebuild_error("no_such_reason", "m")) is core_errors.PermanentError


@pytest.mark.slow  # a fresh interpreter
def test_an_error_pickled_in_an_airflow_process_unpickles_where_exceptions_was_not_imported() -> None:
    """A task's supervisor may unpickle an error before importing the provider's ``exceptions``: same class."""
    payload = pickle.dumps(core_errors.TokenRevokedError("revoked by the admin"))
    code = (
        "import pickle, sys\n"
        "error = pickle.loads(sys.stdin.buffer.read())\n"
        "from airflow.sdk.exceptions import AirflowFailException\n"
        "import airflow_provider_sf360.exceptions\n"
        "assert type(error).__name__ == 'TokenRevokedError' and str(error) == 'revoked by the admin'\n"
        "assert isinstance(error, AirflowFailException)\n"
    )
    subprocess.run([sys.executable, "-c", code], input=payload, check=True, timeout=60)
