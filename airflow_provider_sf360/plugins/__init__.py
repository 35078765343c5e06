"""The "Salesforce 360" page of the Airflow UI (an Airflow plugin); see ``sf360_ui``."""
