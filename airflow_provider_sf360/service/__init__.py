"""The action service: set up, reset, test access, delete (and status, share, diagnose, prune), audited.

``from airflow_provider_sf360.service import SF360Actions``.
"""

from airflow_provider_sf360.service.actions import SF360Actions

__all__ = ["SF360Actions"]
