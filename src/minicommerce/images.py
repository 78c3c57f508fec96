"""Turning uploaded bytes into the renditions of a product image (Pillow).

The bytes decide everything: their type is what Pillow recognises (JPEG, PNG or WebP, never
the file name or a declared type), the size in pixels is checked from the header before any
pixel is decoded (a small file can declare billions), the EXIF orientation is applied, and
the renditions are encoded from pixels alone, so no metadata (EXIF, GPS, XMP, comments)
survives. An embedded ICC profile is converted to sRGB and then dropped: the renditions are
plain sRGB, which is what browsers assume for untagged images.

Pillow is optional (the ``images`` extra, which ``server`` includes): it is imported on the
first upload, and a missing one is a :class:`ConfigurationError` naming the extra.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from minicommerce.errors import (
    ConfigurationError,
    InvalidImage,
    PayloadTooLarge,
    UnsupportedMediaType,
)

if TYPE_CHECKING:
    from PIL import Image as PILImage

WIDTHS = (320, 640, 1280)
"""Rendition widths; an image narrower than one of them gets its own width instead (never
upscaled)."""
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG", "WEBP")
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}
_ORIENTATION = 0x0112
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")

# Decoding and encoding hold a core each and up to a few hundred MB: one image at a time per
# core, whatever the number of request threads.
_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


@dataclass(frozen=True, slots=True)
class EncodedRendition:
    width: int
    height: int
    format: str
    """``webp``, ``jpg`` or ``png``."""
    name: str
    data: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """An upload made safe: its size as displayed, its hash and its renditions."""

    width: int
    height: int
    source_format: str
    """What the upload was: ``jpeg``, ``png`` or ``webp``."""
    content_hash: str
    """SHA-256 of the uploaded bytes; the renditions' names derive from it."""
    renditions: tuple[EncodedRendition, ...]


def _require_pillow() -> None:
    try:
        import PIL  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            "Product images need the Pillow package, which is not installed: "
            "pip install 'minicommerce[images]' (or 'minicommerce[server]' for the server)."
        ) from exc


@contextmanager
def _slot() -> Iterator[None]:
    with _slots:
        yield


def process_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    widths: tuple[int, ...] = WIDTHS,
) -> ProcessedImage:
    """Check ``data`` and make its renditions: WebP, and a JPEG fallback (PNG when the image
    has transparency), at each width of ``widths`` that is not wider than the image.

    Raises :class:`PayloadTooLarge` above ``max_bytes``, :class:`UnsupportedMediaType` for
    anything but a JPEG, PNG or WebP image, :class:`InvalidImage` for a corrupt or
    truncated one or one of more than ``max_pixels`` pixels.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(max_bytes)
    _require_pillow()
    with _slot():
        return _process(data, max_pixels, widths)


def _looks_like_an_image(data: bytes) -> bool:
    return data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _process(data: bytes, max_pixels: int, widths: tuple[int, ...]) -> ProcessedImage:
    from PIL import Image, UnidentifiedImageError

    content_hash = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        # Pillow warns between MAX_IMAGE_PIXELS and twice that; here that is a refusal too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InvalidImage("has too many pixels") from exc
        except UnidentifiedImageError as exc:
            if _looks_like_an_image(data):
                raise InvalidImage("is corrupt: it cannot be read as an image") from exc
            raise UnsupportedMediaType() from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidImage("is corrupt: it cannot be read as an image") from exc
        with image:
            source_format = str(image.format).lower()
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise InvalidImage(f"has more than {max_pixels} pixels")
            try:
                # EXIF orientations 5 to 8 turn the image a quarter: width and height swap.
                # (Reading a PNG's EXIF decodes it, hence inside this try.)
                turned = image.getexif().get(_ORIENTATION) in (5, 6, 7, 8)
                display_size = (height, width) if turned else (width, height)
                pixels = _decode(image, max(widths))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise InvalidImage("has too many pixels") from exc
            except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
                raise InvalidImage("is corrupt or truncated") from exc
    renditions = tuple(_renditions(pixels, content_hash, widths))
    return ProcessedImage(*display_size, source_format, content_hash, renditions)


def _decode(image: PILImage.Image, largest: int) -> PILImage.Image:
    """The pixels, upright, in RGB or RGBA (alpha only when some pixel uses it), sRGB."""
    from PIL import Image, ImageOps

    # JPEG can decode at 1/2, 1/4 or 1/8 scale: no larger than the largest rendition needs
    # (whichever way the EXIF orientation turns it), which saves most of the memory and time.
    image.draft(None, (largest, largest))
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    icc = image.info.get("icc_profile")
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in upright.info
    )
    converted = upright.convert("RGBA" if has_alpha else "RGB")
    if icc:
        converted = _to_srgb(converted, icc)
    if has_alpha:
        low, _high = converted.getchannel("A").getextrema()
        if isinstance(low, int) and low == 255:  # an alpha channel that hides nothing
            converted = converted.convert("RGB")
    clean = Image.new(converted.mode, converted.size)
    clean.paste(converted)
    return clean


def _to_srgb(image: PILImage.Image, icc: bytes) -> PILImage.Image:
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(image, source, target, outputMode=image.mode)
    except Exception:  # an unreadable profile: keep the pixels as they are
        return image
    return converted if converted is not None else image


def _sizes(width: int, height: int, widths: tuple[int, ...]) -> list[tuple[int, int]]:
    targets = sorted({w for w in widths if w < width} | {min(width, max(widths))})
    return [(w, max(1, round(height * w / width))) for w in targets]


def _renditions(
    pixels: PILImage.Image, content_hash: str, widths: tuple[int, ...]
) -> Iterator[EncodedRendition]:
    from PIL import Image

    fallback = "png" if pixels.mode == "RGBA" else "jpg"
    for width, height in _sizes(*pixels.size, widths):
        if (width, height) == pixels.size:
            resized = pixels
        else:
            resized = pixels.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        resized.info.clear()
        for fmt in ("webp", fallback):
            yield EncodedRendition(
                width, height, fmt, rendition_name(content_hash, width, fmt), _encode(resized, fmt)
            )


def rendition_name(content_hash: str, width: int, fmt: str) -> str:
    return f"{content_hash[:2]}/{content_hash}-{width}.{fmt}"


def _encode(image: PILImage.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "webp":
        image.save(out, "WEBP", quality=80, method=4)
    elif fmt == "jpg":
        image.save(out, "JPEG", quality=82, optimize=True, progressive=True)
    else:
        image.save(out, "PNG", compress_level=6)
    return out.getvalue()
