"""Pure core: Salesforce IDs, credential validation and the OAuth protocol client (no Airflow import)."""
