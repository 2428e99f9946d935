"""Reading corpus paths: folders, text corpora, and HTML, PDF, Word, OpenDocument,
Markdown and image files, with Sinhala PDF repair, FM legacy-font conversion and OCR."""

from .files import READERS
from .legacy import LEGACY_FONTS, from_legacy
from .ocr import OCR_MODES, check_ocr
from .reading import SPLITS, ReadOptions, ReadReport, read_file, read_path
from .sinhala_repair import repair as repair_pdf_text

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
