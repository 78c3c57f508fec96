"""The reference HTTP server of minicommerce: a Litestar app over :class:`minicommerce.Shop`."""

from minicommerce_server.app import create_app

__all__ = ["create_app"]
