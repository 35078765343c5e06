"""The names of the provider's Airflow connection type, in one place. Pure module, no Airflow import.

The form labels of its fields live beside their validation: ``core.credentials.FIELD_LABELS``.
"""

from __future__ import annotations

CONN_TYPE = "sf360"
"""The connection type (``conn_type``) of every connection this provider reads."""

DEFAULT_CONN_ID = "sf360_default"
"""The connection id used when none is given."""

HOOK_NAME = "Salesforce 360 (OAuth)"
"""The connection type's name in Airflow's connection form, also the provider's integration name."""
