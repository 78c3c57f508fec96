"""A TCP proxy that a test controls: it forwards, stalls, or refuses.

- ``forward()``: bytes flow both ways.
- ``stall()``: connections are still accepted, but nothing is forwarded either way (what is
  sent waits in the kernel's buffers); a client waits for an answer that does not come, as
  with a database server that stopped answering. ``forward()`` lets it all through again.
- ``refuse()``: every connection is cut, and new ones are reset as soon as they arrive, as
  when the server is down. (The port keeps listening: were it closed, another process on
  the machine could take it as an ephemeral port before the proxy listens again.)

One thread multiplexes every connection; ``close()`` stops it.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from types import TracebackType
from typing import Self


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._mode = "forward"
        self._peers: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)
        self._thread.start()

    @property
    def url_netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def forward(self) -> None:
        self._set("forward")

    def stall(self) -> None:
        self._set("stall")

    def refuse(self) -> None:
        self._set("refuse")

    def close(self) -> None:
        self._stopped = True
        self._thread.join(5)
        with self._lock:
            self._drop_all()
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _set(self, mode: str) -> None:
        with self._lock:
            if mode == "refuse":
                self._drop_all()
            self._mode = mode

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        return listener

    def _drop_all(self) -> None:
        for sock in list(self._peers):
            sock.close()
        self._peers.clear()

    def _run(self) -> None:
        while not self._stopped:
            with self._lock:
                watched = [] if self._listener is None else [self._listener]
                if self._mode == "forward":
                    watched += list(self._peers)
            if not watched:
                threading.Event().wait(0.02)
                continue
            try:
                readable, _, _ = select.select(watched, [], [], 0.02)
            except (OSError, ValueError):  # a socket closed by _set meanwhile
                continue
            with self._lock:
                for sock in readable:
                    if sock is self._listener:
                        self._accept(sock)
                    elif sock in self._peers and self._mode == "forward":
                        self._pump(sock)

    def _accept(self, listener: socket.socket) -> None:
        client, _ = listener.accept()
        if self._mode == "refuse":
            # Close with a reset, which is what a client sees from a port nobody listens on.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        try:
            upstream = socket.create_connection(self._target, timeout=2)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._peers[client] = upstream
        self._peers[upstream] = client

    def _pump(self, sock: socket.socket) -> None:
        other = self._peers[sock]
        try:
            data = sock.recv(65536)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        for end in (sock, other):
            self._peers.pop(end, None)
            end.close()
