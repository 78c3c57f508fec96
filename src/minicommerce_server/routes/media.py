"""Product image files from the media directory, cacheable for ever.

Their names derive from their content, so a name never changes meaning: a year of caching,
``immutable``. Only names that the shop makes are served (no listing, no other files), and
only regular files inside the directory (no path escapes it).
"""

from __future__ import annotations

import os
import re
import stat

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import File

from minicommerce import NotFound, Shop
from minicommerce.images import CONTENT_TYPES
from minicommerce.media import DirectoryMediaStorage, valid_name

MEDIA_PATH = "/media"
CACHE_CONTROL = "public, max-age=31536000, immutable"
_SERVED = re.compile(r"^[0-9a-z/_-]+\.(?P<ext>" + "|".join(CONTENT_TYPES) + r")$")


@get(
    MEDIA_PATH + "/{name:path}",
    sync_to_thread=False,
    include_in_schema=False,
    opt={"media": True},
)
def media_file(name: FromPath[str], shop: NamedDependency[Shop]) -> File:
    storage = shop.media
    name = name.lstrip("/")
    match = _SERVED.match(name)
    if not isinstance(storage, DirectoryMediaStorage) or match is None or not valid_name(name):
        raise NotFound("File", name)
    path = storage.path(name)
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        raise NotFound("File", name) from None
    if not stat.S_ISREG(info.st_mode):
        raise NotFound("File", name)
    return File(
        path,
        stat_result=info,
        content_disposition_type="inline",
        filename=path.name,
        media_type=CONTENT_TYPES[match["ext"]],
        # X-Content-Type-Options comes from the edge middleware, on every response.
        headers={"Cache-Control": CACHE_CONTROL},
    )
