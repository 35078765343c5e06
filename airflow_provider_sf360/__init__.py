"""Apache Airflow 3 provider for Salesforce OAuth credentials kept in one ``sf360`` connection."""

# The one place the version is written: pyproject.toml reads it (``[tool.setuptools.dynamic]``), and
# ``airflow providers list`` shows the installed distribution's version. Releasing: docs/development.md.
__version__ = "0.1.0"
