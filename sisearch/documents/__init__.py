"""Reading corpus paths: folders, text corpora, and HTML, PDF, Word and Markdown files,
with Sinhala PDF repair and FM legacy-font conversion."""

from .files import READERS
from .legacy import LEGACY_FONTS, from_legacy
from .reading import SPLITS, ReadOptions, ReadReport, read_file, read_path
from .sinhala_repair import repair as repair_pdf_text

__all__ = [
    "LEGACY_FONTS",
    "READERS",
    "SPLITS",
    "ReadOptions",
    "ReadReport",
    "from_legacy",
    "read_file",
    "read_path",
    "repair_pdf_text",
]
