"""Catalog reads answered again with the very bytes of an earlier answer.

The catalog cache keeps products and pages as objects; turning one into an HTTP answer
(routing, parsing and validating the query, rendering, encoding JSON) costs several times
what looking it up does. So when a catalog route answers from the process's cache, it
offers the edge (:func:`offer`) what it asked the catalog (the product id, or the parsed
list query) and the cache's :class:`~minicommerce.catalog.cache.Fingerprint` of the
answer, taken before the answer was read. The edge keeps the answer (status, headers,
body) under the request's raw path and query string.

A later GET with the same raw path and query string is answered with those bytes, before
routing, when the catalog's fingerprint for the same id or query is *still equal* to the
kept one: the cache still holds the very entries the bytes were made from. Any write that
the cache hears (on this instance or, through Redis, any other) replaces those entries,
so the next request misses here and goes through the route, which renders afresh. A raw
query string maps to one parsed query whatever the time, so the route's validation is
not repeated: a request that was refused never offered anything.

Only what a route offers is kept, so this needs no list of routes, and the answer cannot
depend on anything but the path and query string: the catalog routes are public and do
not vary by header, but for ``Origin`` (CORS headers name the caller's origin), so the edge
neither keeps nor replays a request that has one. The edge still gives every replayed
request its id, its rate limit, its metrics and its log line.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from litestar.enums import ScopeType
from litestar.types import Message, Scope, Send

from minicommerce.catalog.cache import Fingerprint
from minicommerce.catalog.models import ProductQuery
from minicommerce.catalog.service import CatalogService

MAX_BYTES = 32 * 1024 * 1024
"""Kept answers' bodies, in all, per process (least recently used go first)."""
MAX_BODY = 1024 * 1024
"""A larger answer is not kept (a page of 100 products with images weighs about 100 KB)."""
MAX_KEY = 1024
"""A longer path and query string is never kept (cursors are long; this is generous)."""
_OFFER = "catalog_replay"  # where a route leaves its offer in the request's state

Asked = ProductQuery | int
"""What a route asked the catalog: a list query, or a product id."""


@dataclass(slots=True, eq=False)
class Answer:
    """A kept answer, and what it was made from."""

    asked: Asked
    fingerprint: Fingerprint
    route: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def offer(scope: Scope, asked: Asked, fingerprint: Fingerprint | None) -> None:
    """A catalog route answers ``asked`` from the cache entries ``fingerprint`` names (taken
    before it read them): its answer may be replayed while they are still there."""
    if fingerprint is not None:
        scope.setdefault("state", {})[_OFFER] = (asked, fingerprint)


class Recording:
    """One answer as the app sends it, kept if its route offered it and it is a 200."""

    __slots__ = ("_chunks", "_headers", "_key", "_replay", "_scope", "_size")

    def __init__(self, replay: CatalogReplay, scope: Scope, key: tuple[str, bytes]) -> None:
        self._replay = replay
        self._scope = scope
        self._key = key
        self._headers: list[tuple[bytes, bytes]] | None = None  # of a 200 being kept
        self._chunks: list[bytes] = []
        self._size = 0

    def see(self, message: Message) -> None:
        """Called with each message before the edge adds its own headers."""
        if message["type"] == "http.response.start":
            if message["status"] == 200 and _OFFER in self._scope.get("state", {}):
                self._headers = list(message.get("headers", ()))
            return
        if self._headers is None or message["type"] != "http.response.body":
            return
        body = message.get("body", b"")
        self._size += len(body)
        if self._size > MAX_BODY:
            self._headers = None
            return
        self._chunks.append(body)
        if not message.get("more_body", False):
            self._replay.keep(self._scope, self._key, self._headers, b"".join(self._chunks))
            self._headers = None


class CatalogReplay:
    """The kept answers of one process, bounded by the size of their bodies (LRU).

    It lives on the event loop (the edge middleware's), so it takes no lock.
    """

    def __init__(
        self,
        catalog: CatalogService,
        *,
        max_bytes: int = MAX_BYTES,
        max_key: int = MAX_KEY,
    ) -> None:
        self._catalog = catalog
        self.max_bytes = max_bytes
        self._max_key = max_key
        self._answers: OrderedDict[tuple[str, bytes], Answer] = OrderedDict()
        self._size = 0
        self.replayed = 0

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def size(self) -> int:
        """The kept bodies' bytes, in all."""
        return self._size

    def key(self, scope: Scope) -> tuple[str, bytes] | None:
        """The key of a request that may be replayed or kept (a GET with a short target)."""
        if scope["type"] != ScopeType.HTTP or scope["method"] != "GET":
            return None
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        if len(path) + len(query) > self._max_key:
            return None
        return path, query

    def answer(self, key: tuple[str, bytes]) -> Answer | None:
        """The kept answer for ``key`` if the catalog still holds what it was made from."""
        kept = self._answers.get(key)
        if kept is None:
            return None
        if self._fingerprint(kept.asked) != kept.fingerprint:
            self._drop(key)
            return None
        self._answers.move_to_end(key)
        self.replayed += 1
        return kept

    def recording(self, scope: Scope, key: tuple[str, bytes]) -> Recording:
        return Recording(self, scope, key)

    def keep(
        self,
        scope: Scope,
        key: tuple[str, bytes],
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """Keep a 200 answer that its route offered."""
        asked, fingerprint = scope["state"][_OFFER]
        self._drop(key)
        self._answers[key] = Answer(
            asked,
            fingerprint,
            scope.get("path_template") or scope["path"],
            headers,
            body,
        )
        self._size += len(body)
        while self._size > self.max_bytes and self._answers:
            self._drop(next(iter(self._answers)))

    def _drop(self, key: tuple[str, bytes]) -> None:
        gone = self._answers.pop(key, None)
        if gone is not None:
            self._size -= len(gone.body)

    def _fingerprint(self, asked: Asked) -> Fingerprint | None:
        # Counted as a hit of the cache: the answer is served from what it still holds.
        if isinstance(asked, int):
            return self._catalog.cached_fingerprint(asked, served=True)
        return self._catalog.cached_list_fingerprint(asked, served=True)
