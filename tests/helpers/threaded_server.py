"""An ASGI app served by uvicorn on 127.0.0.1 in a thread of the test process (real HTTP, no subprocess)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_sf360.testing.api_server import free_port

START_TIMEOUT = 30.0


@contextmanager
def serving_in_a_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL.

    :param app: an ASGI application (FastAPI).
    """
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)  # polling a condition (uvicorn sets `started`), not waiting for time to pass
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)
