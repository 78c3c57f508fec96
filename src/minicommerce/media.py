"""Where product images are kept: a storage interface, and a directory on disk.

Files are written once under names that the content decides (see ``images.py``), so they
never change and may be cached for ever; a CDN can sit in front through ``base_url``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from minicommerce.errors import MediaNotConfigured

# What a stored name may look like: relative, no "..", no leading dot, no backslash.
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")


def valid_name(name: str) -> bool:
    return len(name) <= 255 and bool(_NAME.fullmatch(name)) and ".." not in name


class MediaStorage(Protocol):
    """Stores files by name and says where clients fetch them."""

    def put(self, name: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``name`` (replacing a file of that name)."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name``; a name that is not there is not an error."""
        ...

    def url(self, name: str) -> str:
        """The URL clients fetch ``name`` from (absolute, or starting with ``/``)."""
        ...


def join_url(base_url: str, name: str) -> str:
    return base_url.rstrip("/") + "/" + name


class DirectoryMediaStorage:
    """Files in a directory, served under ``base_url`` (by the reference server at
    ``/media/``, or by a web server or CDN)."""

    def __init__(self, root: Path | str, base_url: str = "/media/") -> None:
        self.root = Path(root)
        self.base_url = base_url

    def path(self, name: str) -> Path:
        if not valid_name(name):
            raise ValueError(f"not a valid media name: {name!r}")
        return self.root / name

    def put(self, name: str, data: bytes, content_type: str) -> None:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename: a reader sees the whole file or none.
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def url(self, name: str) -> str:
        return join_url(self.base_url, name)


class UnconfiguredMediaStorage:
    """No place to store files: URLs of existing images still resolve (behind
    ``base_url``), storing or deleting raises :class:`MediaNotConfigured`."""

    def __init__(self, base_url: str = "/media/") -> None:
        self.base_url = base_url

    def put(self, name: str, data: bytes, content_type: str) -> None:
        raise MediaNotConfigured()

    def delete(self, name: str) -> None:
        raise MediaNotConfigured()

    def url(self, name: str) -> str:
        return join_url(self.base_url, name)
