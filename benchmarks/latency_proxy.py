"""A TCP proxy that delays each direction by N ms: a network with a round trip of 2N ms, on loopback, without
a kernel module (tc/netem) or root.

Every block read from one side is written to the other N ms after it arrived, in order, so a request and its
answer take 2N ms more than on loopback; a client's bytes are not sent on before a round trip after its connection
began, as after a TCP handshake (so a connection opened ahead of use has paid it, as in reality). Bandwidth is
not limited. It counts connections; count requests in the server's access log.

    python benchmarks/latency_proxy.py UPSTREAM_PORT DELAY_MS [LISTEN_PORT]

or, from Python (the benchmarks and tests)::

    with LatencyProxy(upstream_port, delay_ms=10) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/repo/"
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from types import TracebackType

__all__ = ["LatencyProxy"]

_BLOCK = 1 << 16


class LatencyProxy:
    """A delaying TCP proxy to ``127.0.0.1:upstream_port``, served on a thread; ``port`` is where it listens."""

    def __init__(self, upstream_port: int, delay_ms: float, port: int = 0, host: str = "127.0.0.1") -> None:
        self.upstream_port = upstream_port
        self.delay = delay_ms / 1000.0
        self.host = host
        self.port = port
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def __enter__(self) -> LatencyProxy:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the latency proxy did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        # The handshake's round trip: a real client's connect() returns only after it, so no byte it sends can
        # reach the server before one round trip and a one-way delay after the connection began (a connection
        # opened ahead of its first request has paid that already).
        handshake_done = asyncio.get_running_loop().time() + 2 * self.delay
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(
                self._pump(client_reader, upstream_writer, not_before=handshake_done),
                self._pump(upstream_reader, client_writer, not_before=0.0),
                return_exceptions=True,
            )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, not_before: float) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                with contextlib.suppress(OSError):
                    await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(_BLOCK):
                queue.put_nowait((max(loop.time(), not_before) + self.delay, data))
        except OSError:
            pass
        finally:
            queue.put_nowait((loop.time() + self.delay, None))
            with contextlib.suppress(Exception):
                await sender
            writer.close()


def main(argv: list[str]) -> None:
    upstream, delay = int(argv[0]), float(argv[1])
    port = int(argv[2]) if len(argv) > 2 else 0
    with LatencyProxy(upstream, delay, port) as proxy:
        print(f"127.0.0.1:{proxy.port} -> 127.0.0.1:{upstream}, +{delay:g} ms each way", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1:])
