"""Reading corpus paths: folders, text corpora, and HTML, PDF, Word, OpenDocument,
Markdown and image files, with Sinhala PDF repair, FM legacy-font conversion and OCR."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .files import READERS
    from .legacy import LEGACY_FONTS, from_legacy
    from .ocr import OCR_MODES, check_ocr
    from .reading import SPLITS, ReadOptions, ReadReport, read_file, read_path
    from .sinhala_repair import repair as repair_pdf_text

# (module, name there) of each public name, imported on first use: the index's store
# needs `origin` alone, and a query should not load every reader to get it.
_EXPORTS = {
    "READERS": (".files", "READERS"),
    "LEGACY_FONTS": (".legacy", "LEGACY_FONTS"),
    "from_legacy": (".legacy", "from_legacy"),
    "OCR_MODES": (".ocr", "OCR_MODES"),
    "check_ocr": (".ocr", "check_ocr"),
    "SPLITS": (".reading", "SPLITS"),
    "ReadOptions": (".reading", "ReadOptions"),
    "ReadReport": (".reading", "ReadReport"),
    "read_file": (".reading", "read_file"),
    "read_path": (".reading", "read_path"),
    "repair_pdf_text": (".sinhala_repair", "repair"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(import_module(module, __name__), attribute)
    globals()[name] = value
    return value


__all__ = [
    "LEGACY_FONTS",
    "OCR_MODES",
    "READERS",
    "SPLITS",
    "ReadOptions",
    "ReadReport",
    "check_ocr",
    "from_legacy",
    "read_file",
    "read_path",
    "repair_pdf_text",
]
