"""A small loopback TCP proxy that delays each HTTP request by a delay switchable at run time (a slow network).

It stands between one Celery worker ("host B") and the api-server: the worker's Execution API calls and its
``/sf360/api/renew`` calls go through it. Each request is held ``delay`` seconds before it is forwarded (the
first chunk a client sends after the server last answered, so an HTTP/1.1 request counts once however many
chunks it takes). It counts requests, requests per delay, and renewal calls (``POST /sf360/api/renew``).

Bounded and self-stopping: it listens on 127.0.0.1 only, refuses connections past ``max_connections``, reads at
most ``CHUNK`` bytes at a time, caps the delay at ``MAX_DELAY`` and closes everything after ``lifetime`` seconds
even if nobody calls :meth:`TcpDelayProxy.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from dataclasses import dataclass, field

CHUNK = 65536
MAX_DELAY = 30.0
RENEW_REQUEST_LINE = b"POST /sf360/api/renew"


@dataclass
class ProxyStats:
    """What went through the proxy so far."""

    connections: int = 0
    refused: int = 0
    requests: int = 0
    renew_requests: int = 0
    requests_by_delay: Counter[float] = field(default_factory=Counter)


class TcpDelayProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``, holding each request ``delay`` seconds.

    :param target_port: the api-server's port on 127.0.0.1.
    :param delay: seconds each request is held before it is forwarded (change it with :meth:`set_delay`).
    :param max_connections: connections open at once; more are refused (closed at once).
    :param lifetime: seconds after :meth:`start` at which the proxy stops by itself.
    """

    def __init__(self, target_port: int, delay: float = 0.0, max_connections: int = 256,
                 lifetime: float = 1800.0) -> None:
        self.target_port = target_port
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.port = 0
        self.stats = ProxyStats()
        self._delay = 0.0
        self.set_delay(delay)
        self._open = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    @property
    def delay(self) -> float:
        return self._delay

    def set_delay(self, seconds: float) -> None:
        """Hold every request from now on ``seconds`` (0 to ``MAX_DELAY``) before forwarding it."""
        self._delay = min(MAX_DELAY, max(0.0, float(seconds)))

    def snapshot(self) -> ProxyStats:
        """A copy of the counters."""
        with self._lock:
            s = self.stats
            return ProxyStats(s.connections, s.refused, s.requests, s.renew_requests, Counter(s.requests_by_delay))

    def start(self) -> TcpDelayProxy:
        """Listen on a free loopback port (``self.port``) in a daemon thread; return once it listens."""
        self._thread = threading.Thread(target=self._run, name=f"tcp-delay-proxy->{self.target_port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            raise RuntimeError("the TCP proxy did not start listening")
        return self

    def stop(self) -> None:
        """Close the listener and every connection; wait for the thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> TcpDelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the event loop thread
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                tasks.add(task)
            try:
                await self._handle(reader, writer)
            finally:
                if task is not None:
                    tasks.discard(task)

        server = await asyncio.start_server(accept, "127.0.0.1", 0, limit=CHUNK)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), self.lifetime)
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        with self._lock:
            if self._open >= self.max_connections:
                self.stats.refused += 1
                client_writer.close()
                return
            self._open += 1
            self.stats.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port, limit=CHUNK)
        except OSError:
            with self._lock:
                self._open -= 1
            client_writer.close()
            return
        answered = asyncio.Event()
        answered.set()  # the first chunk of a connection starts a request
        pumps = {
            asyncio.ensure_future(self._requests(client_reader, server_writer, answered)),
            asyncio.ensure_future(self._answers(server_reader, client_writer, answered)),
        }
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            with self._lock:
                self._open -= 1
            for writer in (client_writer, server_writer):
                writer.close()

    async def _requests(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                        answered: asyncio.Event) -> None:
        """Client to server: hold the first chunk of each request ``delay`` seconds, count it."""
        while chunk := await source.read(CHUNK):
            if answered.is_set():
                answered.clear()
                delay = self._delay
                with self._lock:
                    self.stats.requests += 1
                    self.stats.requests_by_delay[delay] += 1
                if delay:
                    await asyncio.sleep(delay)
            if RENEW_REQUEST_LINE in chunk:
                with self._lock:
                    self.stats.renew_requests += chunk.count(RENEW_REQUEST_LINE)
            sink.write(chunk)
            await sink.drain()
        with contextlib.suppress(OSError):
            if sink.can_write_eof():
                sink.write_eof()

    async def _answers(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                       answered: asyncio.Event) -> None:
        """Server to client: forward as is; the next client chunk starts a new request."""
        while chunk := await source.read(CHUNK):
            answered.set()
            sink.write(chunk)
            await sink.drain()
        with contextlib.suppress(OSError):
            if sink.can_write_eof():
                sink.write_eof()
