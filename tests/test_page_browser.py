"""The search page in a real headless browser (Debian's chromium, driven by Playwright):
a Sinhala query typed in the box finds its passage highlighted, in the served Sinhala font."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sisearch import Index
from sisearch.documents.corpus import read_corpus
from sisearch.language.text import normalize
from sisearch.serve.app import Settings, create_app
from tests.conftest import CORPUS, CORPUS_JSONL

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium fonts-noto-core)"
)
PASSAGE = normalize(CORPUS.read_text(encoding="utf-8").splitlines()[40])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """A uvicorn server on a free loopback port in a thread, for the block; its URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser") / "indexes"
    with Index.create(folder / "default", model=tiny_model) as index:
        index.add(read_corpus(CORPUS_JSONL))
    with serving(Settings(folder)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_typed_sinhala_query_finds_its_passage_highlighted(server, browser, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(server + "/")
    page.fill("#q", PASSAGE)
    page.press("#q", "Enter")
    page.wait_for_selector(".hit")
    first = page.locator(".hit .text").first
    assert normalize(first.inner_text()) == PASSAGE
    marks = first.locator("mark").all_inner_texts()
    assert marks and all(m in PASSAGE for m in marks)
    assert "q=" in page.url  # the search is a shareable URL
    assert page.locator(".hit").count() == 10
    loaded = page.evaluate(
        """async () => {
            await document.fonts.ready;
            return [...document.fonts]
                .filter(f => f.family.includes('Noto Sans Sinhala') && f.status === 'loaded')
                .length;
        }"""
    )
    assert loaded >= 1
    assert page.evaluate("document.fonts.check('16px \"Noto Sans Sinhala\"', 'ශ්‍රී ලංකාව')")
    family = first.evaluate("e => getComputedStyle(e).fontFamily")
    assert family.startswith('"Noto Sans Sinhala"')
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows a phone's width
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    assert Path(tmp_path / "page.png").stat().st_size > 20_000


def test_sinhala_renders_in_the_served_font(server, browser) -> None:
    """Chromium's own account of the fonts that drew a hit's glyphs: the served webfont, not
    a fallback or boxes, draws the Sinhala text."""
    page = browser.new_page()
    page.goto(server + "/?q=" + PASSAGE)
    page.wait_for_selector(".hit")
    page.evaluate("document.fonts.ready.then(() => true)")
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": ".hit .text"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    drawn = {f["familyName"]: f["glyphCount"] for f in fonts}
    served = [f for f in fonts if f["isCustomFont"] and "Sinhala" in f["familyName"]]
    assert served, drawn
    assert served[0]["glyphCount"] >= 0.9 * sum(drawn.values()), drawn


def test_hostile_query_is_shown_as_text(server, browser) -> None:
    page = browser.new_page()
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.goto(
        server + "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%3Cimg+src%3Dx+onerror%3Dalert(2)%3E"
    )
    assert alerts == []
    assert page.input_value("#q") == "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_no_upload_form_on_a_read_only_server(server, browser) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    assert page.locator("#upload").count() == 0


def test_files_added_from_a_phone_are_found(browser, tmp_path, tiny_model) -> None:
    """On a phone-sized page: open "add files", choose an ODT letter and a text file, give
    the token, send; the streamed events end in "done", and a search finds the letter."""
    from tests.test_odt import write_odt

    folder = tmp_path / "indexes"
    with Index.create(folder / "news", model=tiny_model) as index:
        index.add(["පළමු ඡේදය"])
    letter = write_odt(tmp_path / "ලිපිය.odt", "<text:p>කොළඹ වරාය ඉදිකිරීම</text:p>")
    notes = tmp_path / "notes.txt"
    notes.write_text("ගාල්ල කොටුව\n", encoding="utf-8")
    token = "phone-token-42"
    with serving(Settings(folder, token=token)) as url:
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        page.goto(url + "/")
        page.click(".upload summary")
        page.set_input_files("#upload input[type=file]", [str(letter), str(notes)])
        page.fill("#upload input[name=token]", "wrong")
        page.click("#upload button")
        page.wait_for_selector(".upload-log .failed")
        assert "403" in page.locator(".upload-log").inner_text()
        page.fill("#upload input[name=token]", token)
        page.click("#upload button")
        page.wait_for_selector(".upload-log .done", timeout=60_000)
        log = page.locator(".upload-log").inner_text()
        assert "ලිපිය.odt: 1 passages, 1 added" in log and "notes.txt: 1 passages" in log
        assert token not in page.url
        stored = page.evaluate("JSON.stringify([localStorage, sessionStorage, document.cookie])")
        assert token not in stored
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.fill("#q", "කොළඹ වරාය ඉදිකිරීම")
        page.press("#q", "Enter")
        page.wait_for_selector(".hit")
        assert normalize(page.locator(".hit .text").first.inner_text()) == normalize(
            "කොළඹ වරාය ඉදිකිරීම"
        )
        assert "ලිපිය.odt" in page.locator(".hit .source").first.inner_text()
