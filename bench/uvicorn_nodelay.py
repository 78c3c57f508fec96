"""``minicommerce`` with uvicorn's multi-worker TCP_NODELAY bug worked around.

With ``--workers N`` (N > 1) uvicorn binds the listening socket itself with ``proto`` left
at 0; accepted sockets inherit it, and asyncio only sets TCP_NODELAY on sockets whose
``proto`` is IPPROTO_TCP. Nagle's algorithm then meets the client's delayed ACK and every
request after the first on a keep-alive connection waits ~40 ms (uvicorn issue #3149,
https://github.com/Kludex/uvicorn/issues/3149). This launcher re-labels the bound socket as
TCP, as the proposed upstream fix does, then runs the ordinary command line::

    python bench/uvicorn_nodelay.py serve --server uvicorn --workers 2 ...

It changes nothing else; bench/run.py uses it for the "uvicorn (nodelay)" row only.
"""

from __future__ import annotations

import socket
import sys

import uvicorn.config

from minicommerce_server.cli import main

_bind_socket = uvicorn.config.Config.bind_socket


def _bind_tcp_socket(self: uvicorn.config.Config) -> socket.socket:
    sock = _bind_socket(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        inheritable = sock.get_inheritable()
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(inheritable)
    return sock


uvicorn.config.Config.bind_socket = _bind_tcp_socket  # type: ignore[method-assign]

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
