"""Document reading benchmark: word recovery per format and extractor, and throughput.

    python bench/documents.py            # about 4 minutes on 2 cores (plus the encoder's export)
    python bench/documents.py --no-encode
    python bench/documents.py --ocr-only # the OCR tables alone (bench/ocr.py), 1.5 minutes

Documents are generated from the sample corpus by corpora/make_documents.py (HTML pages
with boilerplate, Markdown, DOCX, FM-legacy text and DOCX, and PDFs printed by Chromium
and LibreOffice where they are installed). Word recovery is the share of the source
text's words (after sisearch's normalization, repeats counted) found intact in what a
reader gives; "passages exact" counts source passages given as one passage, unchanged.
Other extractors are measured where installed (pip install pypdf pypdfium2 trafilatura).
Encoding throughput comes from `sisearch index` of the same folder with a randomly
initialised encoder of the full XLM-R base size, so extraction can be set beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hybrid import base_model, machine  # noqa: E402
from bench.ocr import ocr_report  # noqa: E402
from corpora.make_documents import make_documents  # noqa: E402
from sisearch.documents import ReadOptions, read_file  # noqa: E402
from sisearch.documents.sinhala_repair import repair  # noqa: E402
from sisearch.language.text import normalize  # noqa: E402

Extractor = Callable[[Path], list[str]]


def words(text: str) -> list[str]:
    stripped = (w.strip(".,;:!?()\"'|") for w in normalize(text).split())
    return [w for w in stripped if w]


def score(expected: list[str], got: list[str]) -> tuple[int, int, int, int]:
    """(words recovered, words expected, source passages found exactly, words given that
    are not in the source: headings, boilerplate, garbage)."""
    want = Counter(w for text in expected for w in words(text))
    have = Counter(w for text in got for w in words(text))
    found = {normalize(t) for t in got}
    exact = sum(normalize(p) in found for p in expected)
    extra = sum(n - want[w] for w, n in have.items() if n > want[w])
    return sum(min(n, have[w]) for w, n in want.items()), sum(want.values()), exact, extra


def sisearch_reader(options: ReadOptions | None = None) -> Extractor:
    return lambda path: [d.text for d in read_file(path, options)]


def pdfminer_plain(path: Path) -> list[str]:
    from pdfminer.high_level import extract_text

    return extract_text(str(path)).split("\n\n")


def pypdf_plain(path: Path) -> list[str]:
    import pypdf

    return ["\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)]


def pdfium_plain(path: Path) -> list[str]:
    import pypdfium2

    document = pypdfium2.PdfDocument(path)
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


def repaired(extractor: Extractor) -> Extractor:
    return lambda path: [repair(block)[0] for block in extractor(path)]


def html_whole_page(path: Path) -> list[str]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(path.read_text(encoding="utf-8"))
    return [tree.body.text(separator="\n")]


def trafilatura_main(path: Path) -> list[str]:
    import trafilatura

    text = trafilatura.extract(path.read_text(encoding="utf-8"), favor_recall=True) or ""
    return text.splitlines()


def available(module: str) -> bool:
    try:
        __import__(module)
    except Exception:  # an optional extractor that is missing or broken is not measured
        return False
    return True


def extractors() -> list[tuple[str, str, Extractor]]:
    """(folder of the generated documents, extractor name, extractor) to measure."""
    rows: list[tuple[str, str, Extractor]] = []
    for producer in ("pdf-chromium", "pdf-libreoffice"):
        rows.append((producer, "sisearch (pdfminer.six + ActualText + repair)", sisearch_reader()))
        rows.append((producer, "pdfminer.six extract_text", pdfminer_plain))
        rows.append(
            (producer, "pdfminer.six extract_text + sisearch repair", repaired(pdfminer_plain))
        )
        if available("pypdf"):
            rows.append((producer, "pypdf", pypdf_plain))
            rows.append((producer, "pypdf + sisearch repair", repaired(pypdf_plain)))
        if available("pypdfium2"):
            rows.append((producer, "pypdfium2", pdfium_plain))
            rows.append((producer, "pypdfium2 + sisearch repair", repaired(pdfium_plain)))
    rows.append(("html", "sisearch (selectolax + readability rules)", sisearch_reader()))
    rows.append(("html", "whole page text (selectolax)", html_whole_page))
    if available("trafilatura"):
        rows.append(("html", "trafilatura", trafilatura_main))
    rows.append(("md", "sisearch", sisearch_reader()))
    rows.append(("docx", "sisearch (python-docx)", sisearch_reader()))
    rows.append(("fm-docx", "sisearch (FM runs converted)", sisearch_reader()))
    rows.append(
        (
            "fm",
            "sisearch --legacy-font fm-abhaya",
            sisearch_reader(ReadOptions(legacy_font="fm-abhaya")),
        )
    )
    rows.append(("fm", "sisearch, undeclared (not converted)", sisearch_reader()))
    return rows


def pdf_pages(path: Path) -> int:
    from pdfminer.pdfpage import PDFPage

    with open(path, "rb") as f:
        return sum(1 for _ in PDFPage.get_pages(f))


def recovery_table(
    folder: Path, truth: dict[str, list[str]]
) -> dict[tuple[str, str], tuple[float, int]]:
    """Print the recovery table; returns (seconds, source passages) per (documents, extractor)."""
    rates: dict[tuple[str, str], tuple[float, int]] = {}
    print(
        "| documents | extractor | files | word recovery | passages exact | words not in source |"
    )
    print("|---|---|---|---|---|---|")
    for kind, name, extract in extractors():
        files = sorted(f for f in truth if f.startswith(kind + "/"))
        if not files:
            continue
        recovered = expected_words = exact = expected_passages = extra = 0
        seconds = 0.0
        for file in files:
            started = time.perf_counter()
            got = extract(folder / file)
            seconds += time.perf_counter() - started
            a, b, c, d = score(truth[file], got)
            recovered, expected_words, exact = recovered + a, expected_words + b, exact + c
            expected_passages += len(truth[file])
            extra += d
        rates[(kind, name)] = (seconds, expected_passages)
        print(
            f"| {kind} | {name} | {len(files)} | {recovered / expected_words:.1%} |"
            f" {exact}/{expected_passages} | {extra} |"
        )
    return rates


def throughput_table(
    folder: Path, rates: dict[tuple[str, str], tuple[float, int]], scratch: Path | None
) -> None:
    """sisearch's reading rate per format beside `Index.add` of the same PDFs (reading,
    encoding with the base-size encoder, storing), after the index is created."""
    from sisearch import Index
    from sisearch.documents import read_path

    print()
    print("| step | pages/s | passages/s |")
    print("|---|---|---|")
    for (kind, name), (seconds, passages) in rates.items():
        if name.startswith("sisearch") and "undeclared" not in name:
            pages = sum(pdf_pages(p) for p in (folder / kind).glob("*.pdf"))
            page_rate = f"{pages / seconds:.1f}" if pages else ""
            print(f"| reading {kind} ({name}) | {page_rate} | {passages / seconds:.0f} |")
    pdfs = folder / "pdf-chromium"
    if scratch is None or not pdfs.is_dir():
        return
    pages = sum(pdf_pages(p) for p in pdfs.glob("*.pdf"))
    with Index.create(scratch / "index", model=base_model(), precision="int8") as index:
        started = time.perf_counter()
        result = index.add(read_path(pdfs))
        seconds = time.perf_counter() - started
    print(
        f"| `Index.add` of the Chromium PDFs: reading + encoding (base-size encoder, int8)"
        f" + storing | {pages / seconds:.1f} | {result.passages / seconds:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-encode", action="store_true", help="skip the encoding comparison")
    parser.add_argument("--ocr-only", action="store_true", help="only the OCR tables")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    if args.ocr_only:
        ocr_report()
        print(json.dumps({"done": True}))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "documents"
        truth = make_documents(folder, pdf=True)
        producers = sorted({f.split("/")[0] for f in truth if f.startswith("pdf")})
        print(f"Generated: {len(truth)} documents; PDFs by {', '.join(producers) or 'nobody'}\n")
        rates = recovery_table(folder, truth)
        throughput_table(folder, rates, None if args.no_encode else Path(scratch))
    ocr_report()
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
