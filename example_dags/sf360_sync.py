"""A sync DAG: upsert a batch of Accounts into Salesforce with Bulk API 2.0, then query them back.

The client comes from ``SF360Hook.get_conn()``: a simple-salesforce ``Salesforce`` whose token is renewed
transparently, so a long Bulk job survives a token expiring mid-way. The CSV ships with this DAG
(3,000 records keyed by the external ID ``External_Id__c``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

DATA_FILE = Path(__file__).parent / "data" / "accounts.csv"

with DAG(
    dag_id="sf360_sync",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["salesforce", "sf360"],
    doc_md=__doc__,
    params={"sf360_conn_id": Param("sf360_default", type="string", title="Connection id (type sf360)")},
):

    @task
    def upsert_accounts(params: dict[str, Any] | None = None) -> dict[str, int]:
        from airflow_provider_sf360.hooks.sf360 import SF360Hook

        assert params is not None
        sf = SF360Hook(sf360_conn_id=params["sf360_conn_id"]).get_conn()
        results = sf.bulk2.Account.upsert(csv_file=str(DATA_FILE), external_id_field="External_Id__c")
        processed = sum(int(r["numberRecordsProcessed"]) for r in results)
        failed = sum(int(r["numberRecordsFailed"]) for r in results)
        print(f"Bulk API 2.0 upsert: {processed} processed, {failed} failed")
        if failed:
            raise RuntimeError(f"{failed} records failed to upsert; see the job's failedResults in Salesforce")
        return {"processed": processed, "failed": failed}

    @task
    def check_count(upserted: dict[str, int], params: dict[str, Any] | None = None) -> int:
        from airflow_provider_sf360.hooks.sf360 import SF360Hook

        assert params is not None
        expected = sum(1 for _ in DATA_FILE.open()) - 1
        sf = SF360Hook(sf360_conn_id=params["sf360_conn_id"]).get_conn()
        found = sf.query("SELECT COUNT() FROM Account WHERE BillingCity = 'Lisbon'")["totalSize"]
        total = sf.query_all("SELECT Id, External_Id__c FROM Account")["totalSize"]
        print(f"{total} accounts in Salesforce ({found} in Lisbon); {expected} in the file")
        if total < expected:
            raise RuntimeError(f"expected at least {expected} accounts, found {total}")
        return int(total)

    check_count(upsert_accounts())
