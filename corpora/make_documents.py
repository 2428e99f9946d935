"""Write sample documents (HTML, Markdown, DOCX, PDF, FM-legacy text) from the sample corpus.

    python corpora/make_documents.py OUT_DIR [--topics N] [--only T1,T2] [--pdf]

Each topic of corpora/source becomes one document of every kind, its passages as
paragraphs, so a reader's output can be checked word for word against the source text:
- `html/<topic>.html`: the passages inside <main>, wrapped in the boilerplate a real
  news page has (navigation, header, sidebar, footer, a script, a cookie notice).
- `md/<topic>.md`, `docx/<topic>.docx`: a heading, then the passages as paragraphs.
- `fm/<topic>.txt`, `fm-docx/<topic>.docx`: the passages FM Abhaya can type (no Latin
  letters; about 9 in 10) encoded for the font by `unicode_to_fm`, the inverse of the
  converter's table; the DOCX mixes FM runs (font "FMAbhaya") with Unicode runs.
- with --pdf: `pdf-chromium/<topic>.pdf` (Chromium prints the HTML with Noto Sans
  Sinhala) and `pdf-libreoffice/<topic>.pdf` (LibreOffice converts the DOCX), where
  those programs are installed.

`truth.json` maps every written file to the passages it holds. The bench and the tests
both use this; tests/fixtures/documents holds the small PDFs it wrote, for machines
without Chromium or LibreOffice.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZWJ = "\u200d"

BOILERPLATE_TOP = """<header class="site-header"><a href="/">පුවත් පුවරුව</a>
<nav><ul><li><a href="/news">ප්‍රවෘත්ති</a></li><li><a href="/sport">ක්‍රීඩා</a></li>
<li><a href="/business">ව්‍යාපාර</a></li><li><a href="/contact">අප අමතන්න</a></li></ul></nav>
</header>
<div class="cookie-banner">මෙම වෙබ් අඩවිය කුකීස් භාවිත කරයි. <button>එකඟයි</button></div>
"""
BOILERPLATE_SIDE = """<aside class="sidebar"><h3>වැඩිපුර කියවූ</h3><ul>
<li><a href="/a">පාර්ලිමේන්තුවේ අද රැස්වීම</a></li><li><a href="/b">කාලගුණ අනතුරු ඇඟවීම</a></li>
</ul></aside>
"""
BOILERPLATE_BOTTOM = """<footer><p>© 2026 පුවත් පුවරුව. සියලු හිමිකම් ඇවිරිණි.</p>
<p><a href="/privacy">රහස්‍යතා ප්‍රතිපත්තිය</a> | <a href="/terms">නියම සහ කොන්දේසි</a></p></footer>
<script>window.analytics = "ලුහුබැඳීම";</script>
"""
BOILERPLATE_WORDS = ["පුවත්", "පුවරුව", "කුකීස්", "වැඩිපුර", "කියවූ", "හිමිකම්", "ලුහුබැඳීම"]


def topics(limit: int | None = None, only: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """(topic, passages) for each source file (or those named in `only`), in a stable order."""
    rows = []
    for file in sorted((HERE / "source").glob("*.txt")):
        if only and file.stem not in only:
            continue
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
        rows.append((file.stem, [line for line in lines if line]))
    return rows[:limit]


def html_page(topic: str, passages: list[str]) -> str:
    """A news-site page: the passages are the article, the rest is boilerplate."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in passages)
    return f"""<!doctype html>
<html lang="si"><head><meta charset="utf-8"><title>{topic} | පුවත් පුවරුව</title>
<style>body {{ font-family: "Noto Sans Sinhala", sans-serif; }}</style></head>
<body>{BOILERPLATE_TOP}<main><article><h1>{topic}</h1>
{body}
</article></main>{BOILERPLATE_SIDE}{BOILERPLATE_BOTTOM}</body></html>
"""


def print_page(topic: str, passages: list[str]) -> str:
    """The article alone, for printing to PDF."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in passages)
    return f"""<!doctype html><html lang="si"><head><meta charset="utf-8"><title>{topic}</title>
<style>body {{ font-family: "Noto Sans Sinhala"; font-size: 12pt; margin: 2cm; }}</style>
</head><body><h1>{topic}</h1>{body}</body></html>
"""


def markdown(topic: str, passages: list[str]) -> str:
    """A Markdown document: a heading, then blank-line-separated paragraphs."""
    return f"# {topic}\n\n" + "\n\n".join(passages) + "\n"


def write_docx(path: Path, topic: str, passages: list[str], fm: bool = False) -> None:
    """A Word document with a heading and a paragraph a passage; with `fm`, every other
    paragraph is FM Abhaya text in an "FMAbhaya" run (the rest stay Unicode)."""
    import docx

    document = docx.Document()
    document.add_heading(topic, level=1)
    for i, passage in enumerate(passages):
        paragraph = document.add_paragraph()
        if fm and i % 2 == 0:
            run = paragraph.add_run(unicode_to_fm(passage))
            run.font.name = "FMAbhaya"
        else:
            paragraph.add_run(passage)
    document.save(path)


def unicode_to_fm(text: str) -> str:
    """FM Abhaya bytes for Unicode Sinhala: the converter's table read backwards,
    longest Unicode sequence first (with and without the ZWJ of touching letters)."""
    table = _inverse_fm_table()
    out, i = [], 0
    longest = max(map(len, table))
    while i < len(text):
        for size in range(min(longest, len(text) - i), 0, -1):
            piece = text[i : i + size]
            if piece in table:
                out.append(table[piece])
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def fm_round_trips(text: str) -> bool:
    """Whether FM Abhaya can type `text` (no Latin letters, no sequence the table lacks)."""
    from pandukabhaya import Converter

    from sisearch.language.text import normalize

    if any("a" <= c.lower() <= "z" for c in text):
        return False
    fm = unicode_to_fm(text)
    if any("\u0d80" <= c <= "\u0dff" for c in fm):
        return False
    back = Converter("fm_abhaya").convert(fm)
    return normalize(back) == normalize(text)


_INVERSE: dict[str, str] = {}


def _inverse_fm_table() -> dict[str, str]:
    if not _INVERSE:
        from pandukabhaya import Converter

        converter = Converter("fm_abhaya")
        candidates = {**converter.singles, **converter.combos}
        for fm in sorted(candidates, key=lambda k: (len(k), k)):
            unicode_text = converter.convert(fm)
            if unicode_text != fm and fm.strip() and unicode_text.strip():
                _INVERSE.setdefault(unicode_text, fm)
                _INVERSE.setdefault(unicode_text.replace(ZWJ, ""), fm)
    return _INVERSE


def print_pdfs(
    out: Path,
    written: dict[str, list[str]],
    producers: tuple[str, ...] = ("chromium", "libreoffice"),
) -> None:
    """PDFs printed by Chromium (from HTML) and LibreOffice (from DOCX), where installed."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    chromium = chromium if "chromium" in producers else None
    soffice = soffice if "libreoffice" in producers else None
    for topic, passages in topics_in(written, "docx"):
        if chromium:
            target = out / "pdf-chromium" / f"{topic}.pdf"
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                page = Path(tmp) / "page.html"
                page.write_text(print_page(topic, passages), encoding="utf-8")
                subprocess.run(
                    [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                     "--no-pdf-header-footer", f"--print-to-pdf={target}", page.as_uri()],
                    check=True, capture_output=True, timeout=120,
                )  # fmt: skip
            written[str(target.relative_to(out))] = passages
    if soffice:
        target_dir = out / "pdf-libreoffice"
        target_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as profile:
            sources = [str(out / "docx" / f"{t}.docx") for t, _ in topics_in(written, "docx")]
            subprocess.run(
                [soffice, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
                 "--convert-to", "pdf", "--outdir", str(target_dir), *sources],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
        for topic, passages in topics_in(written, "docx"):
            written[f"pdf-libreoffice/{topic}.pdf"] = passages


FM_PDF_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def print_fm_pdf(target: Path, fm_passages: list[str], english: str, mixed: str) -> None:
    """A PDF whose text layer is FM codes under an embedded font named FMAbhaya, as an office
    that typed in FM fonts prints one: DejaVu Sans renamed with fontTools (it draws the FM
    codes as Latin, which is what their text layer holds), embedded with @font-face and
    printed by Chromium. Then an English paragraph, and one mixing an FM run into English
    (`mixed` holds `{fm}` where the FM run goes). Needs Chromium."""
    from fontTools.ttLib import TTFont

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("printing an FM-font PDF needs chromium")
    with tempfile.TemporaryDirectory() as tmp:
        font = TTFont(FM_PDF_FONT)
        for record in font["name"].names:
            if record.nameID in (1, 4, 6, 16):
                record.string = "FMAbhaya"
        font.save(Path(tmp) / "FMAbhaya.ttf")
        fm_run = f'<span class="fm">{html.escape(fm_passages[0])}</span>'
        body = "".join(f'<p class="fm">{html.escape(p)}</p>' for p in fm_passages)
        body += f"<p>{html.escape(english)}</p><p>{html.escape(mixed).replace('{fm}', fm_run)}</p>"
        page = Path(tmp) / "page.html"
        page.write_text(
            '<!doctype html><html><head><meta charset="utf-8"><style>'
            "@font-face { font-family: 'FMAbhaya'; src: url(FMAbhaya.ttf); }"
            " .fm { font-family: 'FMAbhaya'; } p { margin: 0 0 4em; font-size: 14pt; }"
            f"</style></head><body>{body}</body></html>",
            encoding="utf-8",
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--no-pdf-header-footer", f"--print-to-pdf={target}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


def topics_in(written: dict[str, list[str]], kind: str) -> list[tuple[str, list[str]]]:
    return [(Path(name).stem, p) for name, p in written.items() if name.startswith(kind + "/")]


def make_documents(
    out: Path, limit: int | None = None, pdf: bool = False, only: list[str] | None = None
) -> dict[str, list[str]]:
    """Write every kind of document into `out`; returns {relative path: passages}."""
    written: dict[str, list[str]] = {}
    for kind in ("html", "md", "docx", "fm", "fm-docx"):
        (out / kind).mkdir(parents=True, exist_ok=True)
    for topic, passages in topics(limit, only):
        (out / "html" / f"{topic}.html").write_text(html_page(topic, passages), encoding="utf-8")
        (out / "md" / f"{topic}.md").write_text(markdown(topic, passages), encoding="utf-8")
        write_docx(out / "docx" / f"{topic}.docx", topic, passages)
        typable = [p for p in passages if fm_round_trips(p)]
        fm_text = "\n".join(unicode_to_fm(p) for p in typable) + "\n"
        (out / "fm" / f"{topic}.txt").write_text(fm_text, encoding="utf-8")
        write_docx(out / "fm-docx" / f"{topic}.docx", topic, typable, fm=True)
        for kind, ext in (("html", "html"), ("md", "md"), ("docx", "docx")):
            written[f"{kind}/{topic}.{ext}"] = passages
        written[f"fm/{topic}.txt"] = typable
        written[f"fm-docx/{topic}.docx"] = typable
    if pdf:
        print_pdfs(out, written)
    (out / "truth.json").write_text(json.dumps(written, ensure_ascii=False, indent=1))
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--topics", type=int, default=None, help="only the first N topics")
    parser.add_argument("--only", help="only these topics, comma-separated (e.g. health,sports)")
    parser.add_argument("--pdf", action="store_true", help="also print PDFs (needs the programs)")
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else None
    written = make_documents(args.out, args.topics, args.pdf, only)
    print(f"{len(written)} documents in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
