"""Apache Airflow 3 provider for Salesforce OAuth credentials kept in one ``sf360`` connection."""

__version__ = "0.1.0"
