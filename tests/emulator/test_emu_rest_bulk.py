"""REST, SOQL and Bulk 2.0 with a direct simple-salesforce session (salesforce.md sections 5, 9)."""

from __future__ import annotations

import csv

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from airflow_provider_sf360.testing import DEFAULT_CONSUMER_KEY, DEFAULT_ORG_ID, DEFAULT_USER_ID


@pytest.fixture
def sf(emu, web_login) -> Salesforce:
    tok = web_login()
    return Salesforce(instance_url=tok["instance_url"], session_id=tok["access_token"], version="59.0")


def test_versions_and_limits(emu, sf, instance) -> None:
    versions = requests.get(instance + "/services/data/", timeout=10).json()
    assert {"version": "59.0", "url": "/services/data/v59.0", "label": "Winter '24"} in versions
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000


def test_crud_and_query(sf) -> None:
    created = sf.Account.create({"Name": "Acme Corp", "Site": "HQ"})
    assert created["success"] and created["id"].startswith("001") and len(created["id"]) == 18
    assert sf.Account.get(created["id"])["Name"] == "Acme Corp"
    assert sf.Account.update(created["id"], {"Site": "Paris"}) == 204
    res = sf.query("SELECT Id, Name, Site FROM Account WHERE Site = 'Paris' LIMIT 5")
    assert res["totalSize"] == 1 and res["records"][0]["Name"] == "Acme Corp"
    assert res["records"][0]["attributes"]["type"] == "Account"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 1
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])


def test_upsert_by_external_id(sf) -> None:
    assert sf.Contact.upsert("Ext_Id__c/C-1", {"LastName": "One"}) == 201
    assert sf.Contact.upsert("Ext_Id__c/C-1", {"LastName": "Uno"}) == 204
    rec = sf.Contact.get_by_custom_id("Ext_Id__c", "C-1")
    assert rec["LastName"] == "Uno" and rec["Id"].startswith("003")
    names = [f["name"] for f in sf.Contact.describe()["fields"]]
    assert {"Id", "Name", "LastName", "Ext_Id__c"} <= set(names)


def test_custom_object_prefix(sf) -> None:
    rec = sf.Invoice__c.create({"Name": "INV-1"})
    assert rec["id"].startswith("a0")


def test_user_and_org_queries(sf) -> None:
    res = sf.query(f"SELECT Id, Username, IsActive FROM User WHERE Id = '{DEFAULT_USER_ID}'")
    assert res["records"][0]["IsActive"] is True
    assert sf.query("SELECT Id, IsSandbox FROM Organization")["records"][0]["Id"] == DEFAULT_ORG_ID


def test_malformed_query_and_invalid_type(sf) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELEKT Id FROM Account")
    assert exc.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM Nope")
    assert exc.value.content[0]["errorCode"] == "INVALID_TYPE"


def test_query_paging(emu, sf) -> None:
    with emu.world.lock:
        table = emu.world.records.setdefault(DEFAULT_ORG_ID, {}).setdefault("Account", {})
        for i in range(2500):
            table[f"001{i:015d}"] = {"Id": f"001{i:015d}", "Name": f"A{i}"}
    first = sf.query("SELECT Id FROM Account")
    assert not first["done"] and len(first["records"]) == 2000
    assert len(sf.query_all("SELECT Id FROM Account")["records"]) == 2500


def test_expired_session_raises_salesforce_expired_session(emu, sf) -> None:
    emu.set_app(DEFAULT_CONSUMER_KEY, session_timeout=60)
    emu.advance_clock(61)
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.query("SELECT Id FROM Account")
    assert exc.value.status == 401
    assert exc.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_token_of_other_org_is_invalid_session(emu, web_login) -> None:
    tok = web_login()
    from airflow_provider_sf360.testing import DEFAULT_SANDBOX_ORG_ID

    other = Salesforce(instance_url=emu.my_domain_url(DEFAULT_SANDBOX_ORG_ID), session_id=tok["access_token"])
    with pytest.raises(SalesforceExpiredSession):
        other.query("SELECT Id FROM Account")


def test_bulk2_upsert_thousands(emu, sf, tmp_path) -> None:
    path = tmp_path / "accounts.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["External_Id__c", "Name"])
        writer.writerows([f"E{i}", f"Account {i}"] for i in range(5000))
    result = sf.bulk2.Account.upsert(csv_file=str(path), external_id_field="External_Id__c", wait=0)
    assert result[0]["numberRecordsProcessed"] == 5000 and result[0]["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 5000
    # Second run updates, with one bad row.
    with path.open("a", newline="") as fh:
        csv.writer(fh).writerow(["", "No key"])
    result = sf.bulk2.Account.upsert(csv_file=str(path), external_id_field="External_Id__c", wait=0)
    job_id = result[0]["job_id"]
    assert result[0]["numberRecordsFailed"] == 1
    ok = list(csv.DictReader(sf.bulk2.Account.get_successful_records(job_id).splitlines()))
    assert len(ok) == 5000 and ok[0]["sf__Created"] == "false" and ok[0]["sf__Id"].startswith("001")
    failed = list(csv.DictReader(sf.bulk2.Account.get_failed_records(job_id).splitlines()))
    assert failed[0]["sf__Error"].startswith("MISSING_ARGUMENT")
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 5000
    assert emu.request_counts()["bulk"] >= 5


def test_bulk2_insert_and_delete(sf) -> None:
    res = sf.bulk2.Contact.insert(records=[{"LastName": "A"}, {"LastName": "B"}], wait=0)
    assert res[0]["numberRecordsProcessed"] == 2
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Contact")["records"]]
    res = sf.bulk2.Contact.delete(records=[{"Id": i} for i in ids], wait=0)
    assert res[0]["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
