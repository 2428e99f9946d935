"""Paragraphs of page images read by Tesseract OCR in Sinhala and English.

Tesseract runs in this process through tesserocr (the `ocr` extra), which releases the
GIL while it recognizes, so pages are read on every core at once with one engine per
thread; the language data comes from the system (Debian `tesseract-ocr-sin`,
`tesseract-ocr-eng`) or `$TESSDATA_PREFIX`. Measured once here against pytesseract,
which starts the `tesseract` program per page: 1.0 s against 1.25 s a clean page (6.2 s
where Debian's OpenMP build is left to spin), and no temporary image files.

OCR text comes out in the normal form typed text has: Tesseract puts an invisible ZWNJ
after almost every word-final al-lakuna (මෝසම්‌), which would make those words differ
from the same words typed, so it is dropped after a Sinhala letter, and the PDF repair
puts any vowel sign drawn first back after its consonant.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import DocumentError, MissingExtra
from .sinhala_repair import repair

if TYPE_CHECKING:
    from PIL.Image import Image

OcrMode = Literal["never", "auto", "always"]
OCR_MODES: tuple[OcrMode, ...] = ("never", "auto", "always")
LANGUAGES = ("sin", "eng")
# PDF pages are rendered for OCR at this resolution. bench/documents.py, a noisy 10-pt
# 300-dpi scan rendered at 200 / 300 / 400 dpi: word accuracy 0.987 / 0.979 / 0.807
# (Tesseract's models were trained on text lines about 30-40 px high).
OCR_DPI = 300
# A page is cleaned of speckles first where more of its dark pixels than this stand alone.
SPECKLED = 0.02
# Pages are turned straight when their lines climb at least this many degrees (found up
# to MAX_SKEW_DEGREES either way, on a thumbnail this many pixels wide).
MIN_SKEW_DEGREES = 0.3
MAX_SKEW_DEGREES = 5
SKEW_THUMBNAIL_WIDTH = 800
# A paragraph Tesseract is less sure of than this (0-100) is noise, not text.
MIN_CONFIDENCE = 40.0
# Where Debian, Fedora, Homebrew and source builds put the language data.
TESSDATA_FOLDERS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)
INSTALL_HINT = (
    "install Tesseract's Sinhala and English data (Debian/Ubuntu: apt install tesseract-ocr"
    " tesseract-ocr-sin tesseract-ocr-eng) or set TESSDATA_PREFIX to a folder holding"
    " sin.traineddata and eng.traineddata"
)
_ZWNJ_AFTER_SINHALA = re.compile("(?<=[\u0d80-\u0dff])\u200c")
# Told of each page OCR has read: (file label, page number, pages in the file).
PageListener = Callable[[str, int, int], None]
_page_listener: ContextVar[PageListener | None] = ContextVar("sisearch_ocr_pages", default=None)


@contextmanager
def pages_reported_to(listener: PageListener) -> Iterator[None]:
    """Within the block, and on this thread, `listener` hears of each page OCR reads
    (`sisearch index` prints a line, the upload API streams an event)."""
    token = _page_listener.set(listener)
    try:
        yield
    finally:
        _page_listener.reset(token)


@dataclass(frozen=True)
class OcrParagraph:
    """A paragraph OCR read (`raw`: as Tesseract gave it), and how sure Tesseract was of
    it (0-100)."""

    text: str
    confidence: float
    raw: str = ""


def clean_ocr_text(text: str) -> str:
    """OCR output in the form typed Sinhala has: no ZWNJ after Sinhala letters, vowel
    signs after their consonants, lines joined by single spaces."""
    fixed, _ = repair(_ZWNJ_AFTER_SINHALA.sub("", text))
    return " ".join(fixed.split())


def tessdata_folder() -> Path:
    """The folder holding sin.traineddata and eng.traineddata.

    OcrUnavailable naming the packages to install where there is none."""
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), *TESSDATA_FOLDERS]
    for candidate in candidates:
        if not candidate:
            continue
        for folder in (Path(candidate), Path(candidate) / "tessdata"):
            if all((folder / f"{lang}.traineddata").is_file() for lang in LANGUAGES):
                return folder
    raise OcrUnavailable(f"OCR needs Tesseract's Sinhala data: {INSTALL_HINT}")


class OcrUnavailable(DocumentError):
    """OCR was asked for but Tesseract's Sinhala data is not installed."""


def check_ocr() -> None:
    """Raise MissingExtra or OcrUnavailable, each one line saying what to install, unless
    OCR can run here."""
    _tesserocr()
    tessdata_folder()


def _tesserocr() -> Any:
    try:
        import tesserocr
    except ImportError:
        raise MissingExtra(
            "OCR needs the ocr extra: pip install 'sisearch[ocr]' (and " + INSTALL_HINT + ")"
        ) from None
    return tesserocr


class OcrReader:
    """Reads page images into paragraphs on `workers` threads, one Tesseract engine each
    (an engine loads the language data once, then reads page after page). The threads
    and engines are kept until `close`."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or min(4, os.cpu_count() or 1)
        self._folder = str(tessdata_folder())
        self._tesserocr = _tesserocr()
        self._local = threading.local()
        self._engines: list[Any] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sisearch-ocr")

    def read(self, image: Image) -> list[OcrParagraph]:
        """The paragraphs of one page image, in Tesseract's reading order."""
        tesserocr = self._tesserocr
        engine = self._engine()
        engine.SetImage(prepared(image))
        if not engine.Recognize():
            raise DocumentError("Tesseract could not read the page image")
        paragraphs = []
        level = tesserocr.RIL.PARA
        for item in tesserocr.iterate_level(engine.GetIterator(), level):
            raw = item.GetUTF8Text(level) or ""
            text = clean_ocr_text(raw)
            confidence = item.Confidence(level)
            if text and confidence >= MIN_CONFIDENCE and any(c.isalnum() for c in text):
                paragraphs.append(OcrParagraph(text, confidence, raw.strip()))
        engine.Clear()
        return paragraphs

    def read_pages(
        self, pages: Iterable[tuple[int, Callable[[], Image]]], label: str, total: int
    ) -> Iterator[tuple[int, list[OcrParagraph]]]:
        """(page number, paragraphs) of each page in order, pages read in parallel; each
        page's image is made by its callable on the calling thread (PDF rendering is not
        thread-safe) just before it is read. Each page read is told to the listener of
        `pages_reported_to`, if any."""
        pending: list[tuple[int, Any]] = []
        try:
            for number, render in pages:
                pending.append((number, self._pool.submit(self.read, render())))
                while len(pending) > self.workers:
                    yield self._done(pending.pop(0), label, total)
            while pending:
                yield self._done(pending.pop(0), label, total)
        finally:  # a reader that stops early waits for what it started, not for the rest
            for _, future in pending:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for engine in self._engines:
                engine.End()
            self._engines.clear()

    def __enter__(self) -> OcrReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _done(self, item: tuple[int, Any], label: str, total: int) -> tuple[int, Any]:
        number, future = item
        paragraphs = future.result()
        listener = _page_listener.get()
        if listener is not None:
            listener(label, number, total)
        return number, paragraphs

    def _engine(self) -> Any:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            tesserocr = self._tesserocr
            engine = tesserocr.PyTessBaseAPI(
                path=self._folder, lang="+".join(LANGUAGES), psm=tesserocr.PSM.AUTO
            )
            self._local.engine = engine
            with self._lock:
                self._engines.append(engine)
        return engine


def prepared(image: Image) -> Image:
    """The page in grayscale, speckles removed (a 3x3 median) where it has them, and
    turned straight where its lines climb.

    Measured in bench/documents.py: a photocopy's speckles cut Tesseract's Sinhala word
    accuracy from 1.0 to 0.45, and the median brings it back; on a clean page the same
    filter erases the hairlines of thin fonts (LKLUG: 0.57 to 0.01), so it is applied
    only where isolated dark pixels show the noise."""
    from PIL import ImageFilter

    gray = image.convert("L")
    if speckle_share(gray) > SPECKLED:
        gray = gray.filter(ImageFilter.MedianFilter(3))
    angle = skew_angle(gray)
    if abs(angle) >= MIN_SKEW_DEGREES:
        gray = gray.rotate(-angle, resample=_bicubic(), expand=True, fillcolor=255)
    return gray


def skew_angle(image: Image) -> float:
    """How many degrees the page's lines climb (counter-clockwise positive), found where
    a thumbnail's rows of ink are sharpest (the projection profile), within
    MAX_SKEW_DEGREES. Tesseract finds lines on a page turned 1.5 degrees but drops
    whole paragraphs of one that is also noisy (word accuracy 0.37, 1.0 deskewed)."""
    import numpy as np

    scale = min(1.0, SKEW_THUMBNAIL_WIDTH / max(image.width, 1))
    thumbnail = image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    )

    def sharpness(degrees: float) -> float:
        turned = thumbnail.rotate(-degrees, fillcolor=255)
        rows = (np.asarray(turned) < 128).sum(axis=1).astype(np.float64)
        return float(np.square(np.diff(rows)).sum())

    best = max(range(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 1), key=sharpness)
    for step in (0.25, 0.1):  # narrow down around the best angle so far
        best = max((best + k * step for k in range(-3, 4)), key=sharpness)
    return best


def _bicubic() -> Any:
    from PIL import Image

    return Image.Resampling.BICUBIC


def speckle_share(image: Image) -> float:
    """Share of the page's dark pixels that have at most one dark neighbour: specks of
    dirt or scanner noise (a letter's strokes are connected)."""
    import numpy as np

    dark = np.asarray(image) < 128
    padded = np.pad(dark, 1).astype(np.uint8)
    height, width = dark.shape
    neighbours = sum(
        padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if dy or dx
    )
    total = int(dark.sum())
    return int((dark & (neighbours <= 1)).sum()) / total if total else 0.0


@cache
def shared_reader() -> OcrReader:
    """One OcrReader for the process: engines are kept between files (loading the
    language data takes 0.1 s an engine)."""
    return OcrReader()


def sinhala_share(text: str) -> float:
    """Share of the letters in `text` that are Sinhala (0 where it has none)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum("\u0d80" <= c <= "\u0dff" for c in letters) / len(letters)
