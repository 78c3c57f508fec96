"""ASGI entry point for other servers.

granian --interface asgi --factory minicommerce_server.asgi:create
"""

from __future__ import annotations

from litestar import Litestar

from minicommerce_server.app import create_app


def create() -> Litestar:
    """The app that ``MINICOMMERCE_*`` settings describe (the schema must be up to date)."""
    return create_app()
