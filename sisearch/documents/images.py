"""Scanned pages kept as images (PNG, JPEG, TIFF, WebP, BMP) read by OCR, a page a frame.

A phone photo is turned upright by its EXIF orientation, and a transparent image is laid
on white (its text would otherwise read as black on black).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from .ocr import OcrParagraph

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


def read_image(path: Path, label: str) -> Iterator[tuple[int, list[OcrParagraph]]]:
    """(page, paragraphs) of each frame of an image file, read by OCR in order.

    DocumentError for a file that is not an image Pillow reads, or one past Pillow's
    decompression-bomb limit."""
    from PIL import Image, UnidentifiedImageError

    from .ocr import shared_reader

    reader = shared_reader()
    try:
        image = Image.open(path)
        frames = getattr(image, "n_frames", 1)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as e:
        raise DocumentError(f"{label}: not a readable image ({_reason(e)})") from None

    def frame(index: int) -> Callable[[], Any]:
        return lambda: _page_image(image, index, label)

    try:
        yield from reader.read_pages(((i + 1, frame(i)) for i in range(frames)), label, frames)
    finally:
        image.close()


def _page_image(image: Any, index: int, label: str) -> Any:
    """Frame `index` upright, in grayscale, any transparency laid on white."""
    from PIL import Image, ImageOps

    try:
        image.seek(index)
        page = ImageOps.exif_transpose(image)
        if page.mode in ("RGBA", "LA", "PA") or "transparency" in page.info:
            page = page.convert("RGBA")
            white = Image.new("RGBA", page.size, "white")
            page = Image.alpha_composite(white, page)
        return page.convert("L")
    except (OSError, ValueError, EOFError) as e:  # a truncated or corrupt frame
        raise DocumentError(f"{label}: page {index + 1} is not a readable image ({e})") from None


def _reason(error: Exception) -> str:
    text = str(error).split(". ", 1)[0]
    return text or type(error).__name__
