"""Readers for folders, HTML, PDF, DOCX, Markdown and legacy-font text, and the PDF repair."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from corpora.make_documents import html_page, make_documents, topics, unicode_to_fm, write_docx
from sisearch import Index
from sisearch.documents import ReadOptions, ReadReport, read_file, read_path
from sisearch.documents.html import read_html
from sisearch.documents.legacy import from_legacy, is_legacy_font_name, legacy_font_id
from sisearch.documents.markdown import plain_text, read_markdown
from sisearch.documents.sinhala_repair import is_visual_order, repair
from sisearch.errors import CorpusError, DocumentError
from sisearch.language.text import normalize

FIXTURES = Path(__file__).parent / "fixtures" / "documents"
ZWJ = "\u200d"


def words(text: str) -> list[str]:
    return [w.strip(".,;:!?()\"'") for w in normalize(text).split() if w.strip(".,;:!?()\"'")]


def recovery(expected: list[str], got: list[str]) -> float:
    """Share of the expected text's words found intact in what was read (with repeats)."""
    want = Counter(w for text in expected for w in words(text))
    have = Counter(w for text in got for w in words(text))
    return sum(min(n, have[w]) for w, n in want.items()) / sum(want.values())


def passages_of(topic: str) -> list[str]:
    return dict(topics())[topic]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """HTML, Markdown, DOCX and FM-legacy files of two topics, and the passages of each."""
    out = tmp_path_factory.mktemp("documents")
    return out, make_documents(out, only=["health", "sports"])


# --- PDF ------------------------------------------------------------------------------


@pytest.mark.parametrize("producer", ["chromium", "libreoffice"])
@pytest.mark.parametrize("topic", ["health", "sports"])
def test_pdf_paragraphs_recover_every_word(producer: str, topic: str) -> None:
    docs = list(read_file(FIXTURES / f"{topic}-{producer}.pdf"))
    expected = passages_of(topic)
    got = [d.text for d in docs]
    assert recovery(expected, got) >= 0.97
    # Paragraphs, not lines or pages: each source passage is one passage here.
    assert {normalize(p) for p in expected} <= {normalize(t) for t in got}
    assert docs[0].text == topic
    assert all(isinstance(d.origin["page"], int) and d.origin["page"] >= 1 for d in docs)
    assert {d.origin["page"] for d in docs} == {1, 2}
    assert [d.line for d in docs] == list(range(1, len(docs) + 1))


def test_pdf_printed_by_this_machines_chromium(tmp_path: Path) -> None:
    """The committed PDFs pin one Chromium; this prints a fresh one where Chromium is here."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed")
    from corpora.make_documents import print_pdfs

    written = {"docx/food.docx": passages_of("food")}
    (tmp_path / "docx").mkdir()
    print_pdfs(tmp_path, written, producers=("chromium",))
    docs = list(read_file(tmp_path / "pdf-chromium" / "food.pdf"))
    assert recovery(passages_of("food"), [d.text for d in docs]) >= 0.97


def test_corrupt_and_empty_pdfs_are_named_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
    with pytest.raises(DocumentError, match=r"broken\.pdf: not a readable PDF"):
        list(read_file(broken))
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes((FIXTURES / "health-chromium.pdf").read_bytes()[:3000])
    with pytest.raises(DocumentError, match=r"truncated\.pdf"):
        list(read_file(truncated))


# --- the repair of PDF text in glyph order ---------------------------------------------

# (as an extractor without /ActualText gives it, hand-checked logical Sinhala)
BROKEN = [
    ("ෙඩංගු", "ඩෙංගු"),  # kombuva drawn before its consonant
    ("ෙලස", "ලෙස"),
    ("ෙනාමැති", "නොමැති"),  # ො split into ෙ + ා
    ("ෙව්", "වේ"),  # ේ split into ෙ + ්
    ("හැඳින්ෙවන්ෙන්", "හැඳින්වෙන්නේ"),
    ("ෙසෟඛ", "සෞඛ"),  # ෞ split into ෙ + ෟ
    ("ෙෙවද", "වෛද"),  # kombu deka as two kombuvas
    ("ෛවද", "වෛද"),
    (f"ෙප්{ZWJ}ර්ම", f"ප්{ZWJ}රේම"),  # the kombuva goes after the whole rakaransaya cluster
    (f"ෙශ්{ZWJ}රෂ්ඨ", f"ශ්{ZWJ}රෙෂ්ඨ"),
]


@pytest.mark.parametrize(("broken", "fixed"), BROKEN)
def test_visual_order_is_put_back(broken: str, fixed: str) -> None:
    assert repair(broken) == (fixed, 1)


def test_spaces_inside_words_and_unmapped_glyphs_are_removed() -> None:
    assert repair("මදුර ුවන් බෝවන")[0] == "මදුරුවන් බෝවන"  # a space before a vowel sign
    assert repair(f"ප්{ZWJ} රතිකාර")[0] == f"ප්{ZWJ}රතිකාර"  # a space after a joiner
    assert repair("සෞඛ(cid:12)ය")[0] == "සෞඛය"
    text, changed = repair("ෙසෟඛ\x00 අමාත\x00ාංශය ෙඩංගු මර්දනය")
    assert text == "සෞඛ අමාතාංශය ඩෙංගු මර්දනය" and changed == 3


def test_logical_text_passes_unchanged() -> None:
    for text in passages_of("health") + ["ලෙස නොමැති වේ", "English text, 1990."]:
        assert not is_visual_order(text)
        assert repair(text) == (text, 0)


def test_a_block_is_visual_only_when_its_kombuvas_say_so() -> None:
    # ගෙම් read logically is a word; beside kombuvas in impossible places it is glyph order.
    assert not is_visual_order("ගෙම්")
    assert repair("ෙලස ගෙම්")[0] == "ලෙස ගමේ"


# --- legacy FM fonts --------------------------------------------------------------------

LEGACY = [
    ("Y%S ,xldfõ", f"ශ්{ZWJ}රී ලංකාවේ"),
    ("úYajúoHd,h", f"විශ්වවිද්{ZWJ}යාලය"),  # yansaya
    ("m%Odk", f"ප්{ZWJ}රධාන"),  # rakaransaya
    ("ld¾hd,h'", "කාර්යාලය."),  # repaya; FM's ' is a full stop
    ('wms" Tn', "අපි, ඔබ"),  # FM's " is a comma
    ("fldAUqj", "කෝඹුව"),
]


@pytest.mark.parametrize(("fm", "unicode_text"), LEGACY)
def test_fm_text_converts_to_unicode(fm: str, unicode_text: str) -> None:
    assert normalize(from_legacy(fm)) == normalize(unicode_text)


def test_unicode_text_is_never_converted() -> None:
    assert from_legacy("ශ්‍රී ලංකාව") == "ශ්‍රී ලංකාව"


def test_fm_font_names() -> None:
    for name in ("FMAbhaya", "FM Abhaya", "FM-Malithi", "fm bindumathi", "FM Emanee"):
        assert is_legacy_font_name(name)
    for name in ("Arial", "Iskoola Pota", "Noto Sans Sinhala", "Fmono", None, ""):
        assert not is_legacy_font_name(name)
    assert legacy_font_id("FMAbhaya") == legacy_font_id("FM Abhaya") == "fm-abhaya"


def test_declared_legacy_text_files_are_converted_undeclared_ones_are_not(documents) -> None:
    folder, truth = documents
    fm_file = folder / "fm" / "health.txt"
    report = ReadReport()
    converted = list(read_file(fm_file, ReadOptions(legacy_font="fm-abhaya"), report))
    assert [normalize(d.text) for d in converted] == [normalize(p) for p in truth["fm/health.txt"]]
    assert report.legacy_passages == len(converted)
    assert all(d.origin["legacy_font"] == "fm-abhaya" for d in converted)
    raw = fm_file.read_text(encoding="utf-8").splitlines()
    assert [d.text for d in read_file(fm_file)] == raw


def test_docx_with_mixed_legacy_and_unicode_runs(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("ශීර්ෂය", level=1)
    paragraph = document.add_paragraph()
    paragraph.add_run("Y%S ,xldfõ").font.name = "FMAbhaya"
    paragraph.add_run(" සහ ")
    paragraph.add_run("Hello World").font.name = "Arial"
    styled = document.styles.add_style("Old letters", docx.enum.style.WD_STYLE_TYPE.PARAGRAPH)
    styled.font.name = "FM Malithi"
    document.add_paragraph("m%Odk", style="Old letters")
    document.add_paragraph("Unicode only: ශ්‍රී ලංකාව")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "පළමු"
    table.rows[0].cells[1].text = "දෙවන"
    path = tmp_path / "mixed.docx"
    document.save(path)

    report = ReadReport()
    docs = list(read_file(path, report=report))
    assert [normalize(d.text) for d in docs] == [
        "ශීර්ෂය",
        normalize(f"ශ්{ZWJ}රී ලංකාවේ සහ Hello World"),
        normalize(f"ප්{ZWJ}රධාන"),
        "Unicode only: ශ්‍රී ලංකාව",
        "පළමු | දෙවන",
    ]
    assert [d.origin.get("legacy_font") for d in docs] == [
        None,
        "fm-abhaya",
        "fm-malithi",
        None,
        None,
    ]
    assert all(d.origin["heading"] == "ශීර්ෂය" for d in docs)
    assert report.legacy_passages == 2


def _docx_with_body(path: Path, body_xml: str) -> Path:
    """A python-docx document whose body is replaced by `body_xml` (raw WordprocessingML)."""
    import re
    import zipfile

    import docx

    docx.Document().save(path)
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    xml = parts["word/document.xml"].decode("utf-8")
    parts["word/document.xml"] = re.sub(
        r"<w:body>.*<w:sectPr", f"<w:body>{body_xml}<w:sectPr", xml, flags=re.DOTALL
    ).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_docx_with_20000_empty_paragraphs_reads_its_text(tmp_path: Path) -> None:
    text = "<w:p><w:r><w:t>ශ්‍රී ලංකාව</w:t></w:r></w:p>"
    path = _docx_with_body(tmp_path / "empty.docx", "<w:p/>" * 20_000 + text + "<w:p/>" * 100)
    assert [normalize(d.text) for d in read_file(path)] == [normalize("ශ්‍රී ලංකාව")]


def test_a_docx_that_unzips_too_large_is_refused_before_unzipping(tmp_path, monkeypatch):
    import sisearch.documents.zips as word

    body = "<w:p><w:r><w:t>" + "අ" * 200_000 + "</w:t></w:r></w:p>"
    path = _docx_with_body(tmp_path / "bomb.docx", body)
    assert path.stat().st_size < 60_000  # 600 KB of text compresses well, as a bomb does
    monkeypatch.setattr(word, "MAX_UNZIPPED_BYTES", 500_000)
    with pytest.raises(DocumentError, match=r"bomb\.docx: unzips to 1 MiB in \d+ parts, past"):
        list(read_file(path))
    monkeypatch.setattr(word, "MAX_UNZIPPED_BYTES", 10_000_000)
    monkeypatch.setattr(word, "MAX_PARTS", 3)
    with pytest.raises(DocumentError, match="parts, past the limits"):
        list(read_file(path))


@pytest.mark.parametrize(
    "piece", ["[a ", "<!--", "<a ", "*a ", "_a ", "[x](", "<http:a", "`a ", "![a]("]
)
def test_markdown_reading_stays_linear_on_unclosed_marks(piece: str) -> None:
    # 600 KB of one unclosed mark: a pattern that rescans to the line's end for each one
    # (quadratic) would take hours here; every rule reads the line once.
    line = piece * (600_000 // len(piece))
    texts = [p.text for p in read_markdown(line + "\n\nඅවසන")]
    assert texts == [] if piece == "<!--" else texts[-1] == "අවසන"  # an open comment runs on


# --- HTML, DOCX, Markdown from the generator -------------------------------------------


@pytest.mark.parametrize("kind", ["html", "md", "docx", "fm-docx"])
def test_generated_documents_recover_every_passage(documents, kind: str) -> None:
    folder, truth = documents
    ext = {"html": "html", "md": "md", "docx": "docx", "fm-docx": "docx"}[kind]
    docs = list(read_file(folder / kind / f"health.{ext}"))
    expected = truth[f"{kind}/health.{ext}"]
    assert [normalize(d.text) for d in docs] == ["health"] + [normalize(p) for p in expected]
    assert all(d.origin["heading"] == "health" for d in docs)
    assert [d.line for d in docs] == list(range(1, len(docs) + 1))


def test_html_keeps_the_article_and_drops_boilerplate(documents) -> None:
    folder, _ = documents
    docs = list(read_file(folder / "html" / "health.html"))
    assert {d.origin["title"] for d in docs} == {"health | පුවත් පුවරුව"}
    text = " ".join(d.text for d in docs)
    for boilerplate in ("කුකීස්", "වැඩිපුර කියවූ", "හිමිකම්", "analytics", "ප්‍රවෘත්ති"):
        assert boilerplate not in text


def test_html_without_main_uses_readability_rules() -> None:
    page = read_html(
        b"""<html><head><title> Page </title><script>var x = 1;</script></head><body>
        <div id="top-menu"><a href="/">Home</a> <a href="/a">About</a></div>
        <div class="article-content"><h2>Head</h2>
          <p>one <a href="/x">link</a> two</p>line a<br>line b<br><br>second para
          <ul class="tags"><li><a href="/t">tag</a></li></ul>
          <ul><li><a href="/1">first link</a></li><li>a list item with words</li></ul>
          <div hidden>hidden text</div><div aria-hidden="true">aria hidden</div>
          <table><tr><td>cell 1</td><td>cell 2</td></tr></table>
        </div><footer>foot</footer><div class="cookie-banner">cookies</div></body></html>""",
        "t.html",
    )
    assert page.title == "Page"
    assert [(p.text, p.heading) for p in page.paragraphs] == [
        ("Head", "Head"),
        ("one link two", "Head"),
        ("line a line b", "Head"),
        ("second para", "Head"),
        ("a list item with words", "Head"),
        ("cell 1 cell 2", "Head"),
    ]


def test_html_charsets() -> None:
    latin = "<html><meta charset='windows-1252'><p>café</p></html>".encode("cp1252")
    assert [p.text for p in read_html(latin, "x").paragraphs] == ["café"]
    with pytest.raises(DocumentError, match="invalid UTF-8"):
        read_html(b"<p>caf\xe9</p>", "x.html")


def test_empty_html_has_no_passages(tmp_path: Path) -> None:
    for i, content in enumerate((b"", b"<html><body><nav>menu</nav></body></html>")):
        path = tmp_path / f"empty{i}.html"
        path.write_bytes(content)
        assert list(read_file(path)) == []


def test_markdown_markup_is_removed() -> None:
    text = """---
title: front matter
---
# ශීර්ෂය

පළමු **ඡේදය** [සබැඳිය](http://x.lk) සහ ![රූපය](a.png)
දෙවන පේළිය `කේතය`.

```
code is not a passage
```

- ලැයිස්තු අයිතමය
- දෙවන _අයිතමය_

| a | b |
|---|---|
| 1 | 2 |

> උපුටා දැක්වීම

Setext heading
--------------
අවසන් \\*ඡේදය\\*
<!-- a comment -->
[ref]: http://example.com
"""
    got = [(p.text, p.heading) for p in read_markdown(text)]
    assert got == [
        ("ශීර්ෂය", "ශීර්ෂය"),
        ("පළමු ඡේදය සබැඳිය සහ රූපය දෙවන පේළිය කේතය.", "ශීර්ෂය"),
        ("ලැයිස්තු අයිතමය", "ශීර්ෂය"),
        ("දෙවන අයිතමය", "ශීර්ෂය"),
        ("a | b", "ශීර්ෂය"),
        ("1 | 2", "ශීර්ෂය"),
        ("උපුටා දැක්වීම", "ශීර්ෂය"),
        ("Setext heading", "Setext heading"),
        ("අවසන් *ඡේදය*", "Setext heading"),
    ]
    assert plain_text("snake_case_name and __bold__") == "snake_case_name and bold"


def test_text_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "letters.txt"
    path.write_text("first line\nsame paragraph\n\n\nsecond\n  \nthird\n", encoding="utf-8")
    docs = list(read_file(path, ReadOptions(split="paragraph")))
    assert [(d.text, d.line) for d in docs] == [
        ("first line same paragraph", 1),
        ("second", 2),
        ("third", 3),
    ]
    assert [d.line for d in read_file(path)] == [1, 2, 5, 7]


# --- folders ----------------------------------------------------------------------------


def test_folder_walk_skips_hidden_unknown_and_reports_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "a.txt").write_text("පළමු\n", encoding="utf-8")
    (folder / "sub" / "b.md").write_text("# දෙවන\n\nඡේදය\n", encoding="utf-8")
    (folder / ".hidden.txt").write_text("hidden\n", encoding="utf-8")
    (folder / ".git" / "c.txt").write_text("hidden\n", encoding="utf-8")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (folder / "notes").write_text("no extension\n", encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"not a pdf")
    (folder / "latin1.txt").write_bytes(b"caf\xe9\n")
    (folder / "empty.html").write_bytes(b"<html></html>")
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)

    report = ReadReport()
    docs = list(read_path(folder, report=report))
    assert [(Path(d.source).name, d.text) for d in docs] == [
        ("a.txt", "පළමු"),
        ("b.md", "දෙවන"),
        ("b.md", "ඡේදය"),
    ]
    assert report.unknown == Counter({"(no extension)": 1})
    assert report.images_left == 1  # the .jpg: images are read only with OCR on
    assert report.files_read == 2
    assert report.empty == [str(folder / "empty.html")]
    assert len(report.failed) == 2
    assert report.failed[0].startswith(f"{folder / 'broken.pdf'}: not a readable PDF")
    assert report.failed[1].startswith(f"{folder / 'latin1.txt'}:1: invalid UTF-8")

    only_md = list(read_path(folder, ReadOptions(globs=("*.md",))))
    assert {Path(d.source).name for d in only_md} == {"b.md"}
    no_sub = list(read_path(folder, ReadOptions(excludes=("sub/*", "*.pdf", "latin1.txt"))))
    assert {Path(d.source).name for d in no_sub} == {"a.txt"}


def test_deeply_nested_fm_font_html_is_read_without_recursion() -> None:
    nested = "<html><body><p>" + "<font face=FMAbhaya>" * 5000 + "ශ්‍රී ලංකාව</p><p>කොළඹ"
    page = read_html(nested.encode("utf-8"), "deep.html")
    assert [p.text for p in page.paragraphs] == ["ශ්‍රී ලංකාව", "කොළඹ"]


def test_any_reader_failure_in_a_folder_names_the_file_and_moves_on(tmp_path, monkeypatch):
    import sisearch.documents.html as html

    (tmp_path / "a.txt").write_text("පළමු\n", encoding="utf-8")
    (tmp_path / "b.html").write_text("<p>දෙවන</p>", encoding="utf-8")

    def broken(data: bytes, label: str):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(html, "read_html", broken)
    report = ReadReport()
    assert [d.text for d in read_path(tmp_path, report=report)] == ["පළමු"]
    assert report.failed == [
        f"{tmp_path / 'b.html'}: could not be read (RecursionError: maximum recursion depth"
        " exceeded)"
    ]


def test_a_folder_with_nothing_readable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "drawing.svg").write_bytes(b"<svg/>")
    with pytest.raises(CorpusError, match="no file sisearch reads"):
        list(read_path(tmp_path))


def test_a_named_file_is_read_strictly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DocumentError, match=r"broken\.docx: not a readable Word"):
        list(read_file(broken))


# --- the command line --------------------------------------------------------------------


def test_a_folder_of_unreadable_files_names_each_before_the_error(run, tiny_model, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"not a pdf")
    (folder / "latin1.txt").write_bytes(b"caf\xe9\n")
    result = run("index", str(folder), "--model", tiny_model, "--index-dir", str(tmp_path / "ix"))
    assert result.exit_code == 1
    skipped = result.stderr.index(f"Skipped {folder / 'broken.pdf'}: not a readable PDF")
    assert f"Skipped {folder / 'latin1.txt'}:1: invalid UTF-8" in result.stderr
    assert skipped < result.stderr.index("no non-blank passages")


def test_index_a_folder_and_query_it(run, tiny_model: str, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.copy(FIXTURES / "health-chromium.pdf", folder / "health.pdf")
    (folder / "page.html").write_text(html_page("sports", passages_of("sports")[:5]))
    write_docx(folder / "mixed.docx", "history", passages_of("history")[:4], fm=True)
    (folder / "old.txt").write_text(unicode_to_fm("ශ්‍රී ලංකාවේ ඉතිහාසය") + "\n")
    (folder / "broken.pdf").write_bytes(b"not a pdf")
    (folder / "logo.png").write_bytes(b"\x89PNG")

    result = run("index", str(folder), "--model", tiny_model, "--legacy-font", "fm-abhaya")
    assert result.exit_code == 0, result.output
    assert f"Skipped {folder / 'broken.pdf'}: not a readable PDF" in result.stderr
    assert "4 files read, 1 image left unread (index it with --ocr auto)" in result.stdout
    assert "1 unreadable" in result.stdout
    assert "converted 3 legacy-font passages to Unicode" in result.stdout

    result = run("query", "ඩෙංගු මදුරුවන්", "--json", "-k", "50")
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    by_file = {Path(h["source"]).name: h for h in reversed(hits)}
    pdf_hit = by_file["health.pdf"]
    assert pdf_hit["source"] == str((folder / "health.pdf").resolve())
    assert isinstance(pdf_hit["origin"]["page"], int)
    assert by_file["page.html"]["origin"]["title"] == "sports | පුවත් පුවරුව"
    assert by_file["mixed.docx"]["origin"]["heading"] == "history"
    assert normalize(by_file["old.txt"]["text"]) == normalize("ශ්‍රී ලංකාවේ ඉතිහාසය")

    info = json.loads(run("info", "--json").stdout)
    assert info["legacy_passages"] == 3
    assert info["pdf_words_repaired"] == 0


def test_a_users_fields_never_pass_for_what_a_reader_recorded(run, tiny_model, tmp_path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.copy(FIXTURES / "health-chromium.pdf", folder / "health.pdf")
    rows = "text,page,legacy_font,repaired_words,heading\n" + "".join(
        f"{passage},9,fm-abhaya,5,mine\n" for passage in passages_of("sports")[:3]
    )
    (folder / "rows.csv").write_text(rows, encoding="utf-8")
    assert run("index", str(folder), "--model", tiny_model, "-q").exit_code == 0

    info = json.loads(run("info", "--json").stdout)
    assert (info["legacy_passages"], info["pdf_words_repaired"]) == (0, 0)
    hits = [
        json.loads(h) for h in run("query", "ක්‍රීඩා", "--json", "-k", "100").stdout.split("\n") if h
    ]
    csv_hits = [h for h in hits if h["source"].endswith("rows.csv")]
    pdf_hits = [h for h in hits if h["source"].endswith("health.pdf")]
    assert csv_hits and pdf_hits
    assert all(h["metadata"]["page"] == "9" and h["origin"] == {} for h in csv_hits)
    assert all(h["metadata"] == {} and h["origin"]["page"] >= 1 for h in pdf_hits)

    index = Index.open(tmp_path / "indexes" / "default")
    assert all(h.place.startswith("rows.csv:") for h in index.search("ක්‍රීඩා", where="page = 9"))
    by_page = index.search("ඩෙංගු", where="origin.page >= 1", limit=100)
    assert by_page and all(h.source.endswith("health.pdf") for h in by_page)
    assert all(h.place.startswith("health.pdf p.") for h in by_page)


def test_an_index_from_before_origin_is_read_split_then_migrated(tmp_path, tiny_encoder) -> None:
    import sqlite3

    from sisearch import Document
    from sisearch.core.store import SCHEMA_VERSION

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(
        [
            Document("කොළඹ වරාය", "/a/report.pdf", 1, origin={"page": 3, "repaired_words": 2}),
            Document("ගාල්ල කොටුව", "/a/rows.csv", 2, metadata={"page": 9, "topic": "port"}),
        ]
    )
    index.close()
    with sqlite3.connect(tmp_path / "ix" / "documents.db") as connection:  # as schema 2 kept it
        connection.execute(
            "UPDATE documents SET metadata = json_patch(metadata, origin) WHERE origin != '{}'"
        )
        connection.execute("ALTER TABLE documents DROP COLUMN origin")
        connection.execute("PRAGMA user_version = 2")

    def fields(found: Index) -> dict[str, tuple[dict, dict]]:
        hits = found.search("කොළඹ වරාය", limit=5, mode="dense")
        return {h.source: (h.metadata, h.origin) for h in hits}

    expected = {
        "/a/report.pdf": ({}, {"page": 3, "repaired_words": 2}),
        "/a/rows.csv": ({"page": 9, "topic": "port"}, {}),
    }
    reopened = Index.open(tmp_path / "ix")  # read as it is: opening writes nothing
    assert reopened.store.schema_version == 2
    assert fields(reopened) == expected
    assert reopened.store.conversion_counts() == (0, 2)
    reopened.add([])  # the next write moves the reader's fields into their column
    assert reopened.store.schema_version == SCHEMA_VERSION
    assert fields(reopened) == expected
    assert [h.source for h in reopened.search("කොළඹ", where="origin.page = 3")] == ["/a/report.pdf"]
    assert [h.source for h in reopened.search("ගාල්ල", where="page = 9")] == ["/a/rows.csv"]


def test_named_bad_documents_stop_before_anything_is_created(run, tiny_model, tmp_path) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"not a pdf")
    (tmp_path / "empty.html").write_text("<html><body></body></html>")
    result = run("index", "broken.pdf", "--model", tiny_model)
    assert result.exit_code == 1 and "broken.pdf: not a readable PDF" in result.stderr
    result = run("index", "empty.html", "--model", tiny_model)
    assert result.exit_code == 1 and "no non-blank passages" in result.stderr
    assert not (tmp_path / "indexes").exists()


def test_folder_sync_follows_edits_deletions_and_keeps_unreadable_files(
    run, tiny_model: str, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text("# එක\n\nපළමු ඡේදය\n\nදෙවන ඡේදය\n", encoding="utf-8")
    (folder / "b.txt").write_text("තුන්වන පේළිය\n", encoding="utf-8")
    (folder / "c.txt").write_text("හතරවන පේළිය\n", encoding="utf-8")
    (folder / "d.txt").write_text("පස්වන පේළිය\n", encoding="utf-8")
    assert run("index", str(folder), "--model", tiny_model, "-q").exit_code == 0

    (folder / "a.md").write_text("# එක\n\nපළමු ඡේදය\n\nනව ඡේදය\n", encoding="utf-8")
    (folder / "b.txt").unlink()
    (folder / "c.txt").write_bytes(b"\xff broken now\n")
    (folder / "d.txt").write_text("", encoding="utf-8")
    result = run("index", str(folder), "--sync")
    assert result.exit_code == 0, result.output
    assert "c.txt:1: invalid UTF-8" in result.stderr
    with Index.open(tmp_path / "indexes" / "default") as index:
        texts = {(Path(s).name, t) for _, t, s, _, _ in index.store.iter_documents()}
    assert texts == {
        ("a.md", "එක"),
        ("a.md", "පළමු ඡේදය"),
        ("a.md", "නව ඡේදය"),
        ("c.txt", "හතරවන පේළිය"),  # unreadable now: its passages are kept, not lost
    }


def test_python_folder_sync_drops_deleted_and_emptied_files(tmp_path, tiny_encoder) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in [("a.txt", "පළමු"), ("b.txt", "දෙවන"), ("c.txt", "තුන"), ("d.txt", "හතර")]:
        (folder / name).write_text(text + "\n", encoding="utf-8")
    outside = tmp_path / "other.txt"
    outside.write_text("පිටත\n", encoding="utf-8")
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(read_path(folder))
    index.add(read_path(outside))
    (folder / "b.txt").unlink()
    (folder / "c.txt").write_text("\n\n", encoding="utf-8")  # emptied
    (folder / "d.txt").write_bytes(b"\xff broken now\n")  # unreadable this time
    result = index.sync(read_path(folder))
    assert result.documents_removed == 2
    texts = {(Path(s).name, t) for _, t, s, _, _ in index.store.iter_documents()}
    assert texts == {("a.txt", "පළමු"), ("d.txt", "හතර"), ("other.txt", "පිටත")}
    index.close()


def test_index_help_lists_formats(run) -> None:
    result = run("index", "--help")
    for text in (".html", ".pdf", ".docx", ".md", "--legacy-font", "--split", "--glob"):
        assert text in result.stdout
    assert "fm-abhaya" in result.stdout


def test_reading_is_deterministic(documents) -> None:
    folder, _ = documents
    first = [(d.source, d.line, d.text) for d in read_path(folder)]
    assert first == [(d.source, d.line, d.text) for d in read_path(folder)]
    assert len(first) == len(set(first))


def test_a_hit_names_its_place() -> None:
    from sisearch import Hit

    def hit(source: str, line: int | None, origin: dict, metadata: dict | None = None) -> Hit:
        return Hit(1, 0.5, 0.5, 1, "x", source, line, metadata or {}, 1, None, None, origin)

    assert hit("/a/report.pdf", 7, {"page": 3}).place == "report.pdf p.3"
    assert hit("/a/news.txt", 12, {}).place == "news.txt:12"
    assert hit("-", None, {}).place == "-"
    # A user's own field named `page` (a CSV column) is not a PDF page.
    assert hit("/a/rows.csv", 4, {}, {"page": 9}).place == "rows.csv:4"
