"""``[core] hostname_callable`` of the Celery run's workers: each worker process stands for its own host.

Both workers run on one machine, so the FQDN cannot tell them apart; each worker's environment names its host
(``SF360_SCALE_HOST``) and task instances record that name, so the figures can show which host ran what.
"""

from __future__ import annotations

import os
import socket

HOST_VARIABLE = "SF360_SCALE_HOST"


def worker_host() -> str:
    """The host name this worker stands for (``SF360_SCALE_HOST``), else the machine's FQDN."""
    return os.environ.get(HOST_VARIABLE) or socket.getfqdn()
