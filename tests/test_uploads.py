"""Files sent to the server (`POST /api/indexes/{name}/files`): a scan, an FM-font page, an
ODT file and bad files read as `sisearch index` reads them; the token, the raised body
limit, the temporary folder, and searches answered while a job runs."""

from __future__ import annotations

import html
import json
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from corpora.make_documents import unicode_to_fm
from corpora.make_scans import image_pdf, render_pages
from sisearch import Index
from sisearch.language.text import normalize
from sisearch.serve import uploads
from sisearch.serve.app import Settings, create_app
from sisearch.serve.uploads import safe_file_name
from tests.test_ocr import FONT, PASSAGES, needs_ocr, word_recall
from tests.test_odt import write_odt

TOKEN = "upload-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HISTORY = "ශ්‍රී ලංකාවේ ඉතිහාසය"
PORT = "කොළඹ වරාය ඉදිකිරීම"


@pytest.fixture
def index_dir(tmp_path: Path, tiny_model: str) -> Path:
    folder = tmp_path / "indexes"
    with Index.create(folder / "news", model=tiny_model) as index:
        index.add(["පළමු ඡේදය"])
    return folder


def events_of(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def sisearch_upload_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("sisearch-upload-*")}


def test_file_names_are_made_safe() -> None:
    taken: set[str] = set()
    assert safe_file_name("../../etc/passwd", taken) == "passwd"
    assert safe_file_name("C:\\Users\\me\\වාර්තාව.pdf", taken) == "වාර්තාව.pdf"
    assert safe_file_name("වාර්තාව.PDF", taken) == "වාර්තාව-2.PDF"
    assert safe_file_name("\x00\n..", taken) == "file"
    assert safe_file_name("a" * 500 + ".docx", taken) == "a" * 115 + ".docx"


def test_documents_sent_over_http_are_read_added_and_found(index_dir: Path, tmp_path: Path) -> None:
    page = (
        f'<html><body><p><font face="FMAbhaya">{html.escape(unicode_to_fm(HISTORY))}</font></p>'
        "<p>English stays</p></body></html>"
    )
    odt = write_odt(tmp_path / "letter.odt", f"<text:p>{PORT}</text:p>")
    before = sisearch_upload_folders()
    files = [
        ("file", ("old-site.html", page.encode(), "text/html")),
        ("file", ("letter.odt", odt.read_bytes(), "application/vnd.oasis.opendocument.text")),
        ("file", ("../notes.txt", "ගාල්ල කොටුව\n".encode(), "text/plain")),
        ("file", ("broken.pdf", b"%PDF-1.4 not really", "application/pdf")),
        ("file", ("program.exe", b"MZ\x90\x00", "application/octet-stream")),
    ]
    with TestClient(create_app(Settings(index_dir, token=TOKEN))) as client:
        events = events_of(
            client.post("/api/indexes/news/files", headers=AUTH, files=files, data={"ocr": "never"})
        )
        assert events[0] == {
            "event": "received",
            "files": ["old-site.html", "letter.odt", "notes.txt", "broken.pdf", "program.exe"],
        }
        by_file = {e["file"]: e for e in events if e["event"] == "file"}
        assert by_file["old-site.html"]["added"] == 2
        assert by_file["old-site.html"]["legacy_passages"] == 1
        assert by_file["letter.odt"]["added"] == 1
        assert by_file["notes.txt"] == {
            "event": "file",
            "file": "notes.txt",
            "passages": 1,
            "added": 1,
            "skipped": 0,
        }
        assert by_file["broken.pdf"]["error"].startswith("broken.pdf: not a readable PDF")
        assert by_file["program.exe"]["error"] == "program.exe: not a type sisearch reads"
        done = events[-1]
        assert done["event"] == "done" and done["added"] == 4 and done["skipped_files"] == 2
        told = json.dumps(events)
        assert str(index_dir) not in told and tempfile.gettempdir() not in told

        for query, source in ((HISTORY, "old-site.html"), (PORT, "letter.odt")):
            hit = client.get("/api/indexes/news/search", params={"q": query, "k": 1}).json()
            assert normalize(hit["hits"][0]["text"]) == normalize(query)
            assert hit["hits"][0]["source"] == source
        # The same file again: its passages are there already.
        again = events_of(client.post("/api/indexes/news/files", headers=AUTH, files=files[2:3]))
        assert again[-2]["skipped"] == 1 and again[-1]["added"] == 0
    assert sisearch_upload_folders() == before


@needs_ocr
def test_a_scanned_pdf_sent_over_http_is_read_by_ocr_page_by_page(
    index_dir: Path, tmp_path: Path
) -> None:
    pages = render_pages(PASSAGES, FONT) + render_pages(PASSAGES[:2], FONT)
    scan = tmp_path / "scan.pdf"
    image_pdf([page.image for page in pages], scan)
    with TestClient(create_app(Settings(index_dir, token=TOKEN))) as client:
        events = events_of(
            client.post(
                "/api/indexes/news/files",
                headers=AUTH,
                files=[("file", ("gazette.pdf", scan.read_bytes(), "application/pdf"))],
            )
        )
        pages_told = [(e["page"], e["pages"]) for e in events if e["event"] == "page"]
        assert pages_told == [(n, len(pages)) for n in range(1, len(pages) + 1)]
        (told,) = [e for e in events if e["event"] == "file"]
        assert told["ocr_pages"] == len(pages) and told["added"] >= len(PASSAGES) - 1
        hit = client.get("/api/indexes/news/search", params={"q": PASSAGES[2], "k": 1}).json()
        first = hit["hits"][0]
        assert first["source"] == "gazette.pdf" and first["origin"]["ocr"] is True
        assert word_recall([PASSAGES[2]], [first["text"]]) >= 0.9


def test_files_need_the_token_before_the_body_is_read(index_dir: Path) -> None:
    files = [("file", ("a.txt", "ගාල්ල".encode()))]
    with TestClient(create_app(Settings(index_dir, token=TOKEN))) as client:
        assert client.post("/api/indexes/news/files", files=files).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.post("/api/indexes/news/files", headers=wrong, files=files).status_code == 403
        missing = client.post("/api/indexes/nowhere/files", headers=AUTH, files=files)
        assert missing.status_code == 404
        empty = client.post("/api/indexes/news/files", headers=AUTH, data={"ocr": "auto"})
        assert empty.status_code == 400 and "send one or more files" in empty.json()["error"]
        bad = client.post("/api/indexes/news/files", headers=AUTH, files=files, data={"ocr": "x"})
        assert bad.status_code == 400 and "ocr must be one of" in bad.json()["error"]
        odd = client.post("/api/indexes/news/files", headers=AUTH, files=files, data={"k": "1"})
        assert odd.status_code == 400 and "unknown form fields: k" in odd.json()["error"]
    with TestClient(create_app(Settings(index_dir))) as read_only:
        refused = read_only.post("/api/indexes/news/files", headers=AUTH, files=files)
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]


def test_the_upload_limit_is_its_own(index_dir: Path) -> None:
    nine_mib = b"\x00" * (9 * 1024 * 1024)  # over the 8 MiB other requests may send
    with TestClient(create_app(Settings(index_dir, token=TOKEN))) as client:
        events = events_of(
            client.post("/api/indexes/news/files", headers=AUTH, files=[("f", ("x.bin", nine_mib))])
        )
        assert events[-1]["skipped_files"] == 1
    small = Settings(index_dir, token=TOKEN, max_upload_bytes=4096)
    with TestClient(create_app(small)) as client:
        response = client.post(
            "/api/indexes/news/files", headers=AUTH, files=[("f", ("a.txt", b"a" * 5000))]
        )
        assert response.status_code == 413 and "over 4096 bytes" in response.json()["error"]


def test_searches_are_answered_while_a_job_runs(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = threading.Event()
    release = threading.Event()
    real = uploads.read_or_report

    def slow_reader(*args, **kwargs):
        reading.set()
        release.wait(30)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(uploads, "read_or_report", slow_reader)
    events: list[dict] = []
    with TestClient(create_app(Settings(index_dir, token=TOKEN))) as client:

        def send() -> None:
            files = [("file", ("late.txt", "මාතර වෙරළ\n".encode()))]
            response = client.post("/api/indexes/news/files", headers=AUTH, files=files)
            events.extend(events_of(response))

        sender = threading.Thread(target=send)
        sender.start()
        assert reading.wait(30)
        for _ in range(3):  # the job holds its file: searches still come back
            answer = client.get("/api/indexes/news/search", params={"q": "පළමු", "k": 1})
            assert answer.status_code == 200 and not events
        release.set()
        sender.join(30)
    assert events[-1]["added"] == 1


def test_a_job_goes_on_when_the_client_leaves(index_dir: Path, tiny_model: str) -> None:
    app = create_app(Settings(index_dir, token=TOKEN))
    with TestClient(app) as client:
        files = [("file", ("left.txt", "අනුරාධපුරය\n".encode()))]
        with client.stream("POST", "/api/indexes/news/files", headers=AUTH, files=files) as r:
            assert r.status_code == 200
            first = next(r.iter_lines())
            assert json.loads(first)["event"] == "received"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Index.open(index_dir / "news") as index:
                if index.store.document_count() == 2:
                    break
            time.sleep(0.1)
        with Index.open(index_dir / "news") as index:
            assert index.store.document_count() == 2
