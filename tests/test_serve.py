"""`sisearch serve`: every endpoint and error status of the HTTP contract, the server-rendered
page, and hostile requests; through an in-process client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from sisearch import Index
from sisearch.cli import cli
from sisearch.documents.corpus import read_corpus
from sisearch.serve.app import Settings, create_app
from sisearch.serve.limits import MAX_BODY_BYTES, MAX_K, MAX_QUERY_CHARS
from tests.conftest import CORPUS_JSONL, HIT_FIELDS

TOKEN = "s3cret-token"
QUERY = "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, tiny_model) -> Path:
    folder = tmp_path_factory.mktemp("serve") / "indexes"
    with Index.create(folder / "default", model=tiny_model) as index:
        index.add(read_corpus(CORPUS_JSONL))
    with Index.create(folder / "small", model=tiny_model) as index:
        index.add(["කොළඹ වරාය", "ගාල්ල කොටුව"])
    return folder


@pytest.fixture(scope="module")
def client(index_dir: Path):
    with TestClient(create_app(Settings(index_dir, token=TOKEN))) as test_client:
        yield test_client


@pytest.fixture
def read_only_client(index_dir: Path):
    with TestClient(create_app(Settings(index_dir))) as test_client:
        yield test_client


def cli_json(index_dir: Path, *args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["query", *args, "--json", "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and body["error"]
    return body["error"]


def test_healthz(client) -> None:
    assert client.get("/healthz").status_code == 200


def test_list_and_info(client, index_dir) -> None:
    indexes = client.get("/api/indexes").json()["indexes"]
    assert [i["name"] for i in indexes] == ["default", "small"]
    assert {"name", "documents", "chunks", "model"} <= set(indexes[0])
    assert indexes[0]["documents"] == 312
    result = CliRunner().invoke(cli, ["info", "--json", "--index-dir", str(index_dir)])
    expected = json.loads(result.output)
    response = client.get("/api/indexes/default")
    folder = Path(expected.pop("path"))
    model = Path(expected["model"])
    assert response.json() == {"name": "default", **expected, "model": model.name}
    listed = client.get("/api/indexes").text
    for text in (response.text, listed):  # the server's folders are not the client's business
        assert str(folder) not in text and str(model) not in text and str(index_dir) not in text


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_search_equals_the_cli(client, index_dir, mode) -> None:
    response = client.get("/api/indexes/default/search", params={"q": QUERY, "k": 7, "mode": mode})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == QUERY and len(body["hits"]) == 7
    assert all(set(hit) == HIT_FIELDS for hit in body["hits"])
    expected = [
        {k: v for k, v in hit.items() if k != "query"}
        for hit in cli_json(index_dir, QUERY, "-k", "7", "--mode", mode)
    ]
    assert body["hits"] == expected
    cosines = [h["cosine"] for h in body["hits"]]
    assert (
        all(c is None for c in cosines)
        if mode == "lexical"
        else all(-1 <= c <= 1.0001 for c in cosines)
    )


def test_search_with_where(client) -> None:
    response = client.get(
        "/api/indexes/default/search", params={"q": QUERY, "where": "topic = 'health'"}
    )
    hits = response.json()["hits"]
    assert len(hits) == 10 and {h["metadata"]["topic"] for h in hits} == {"health"}


def test_batch_search(client) -> None:
    queries = [QUERY, "කොළඹ වරාය"]
    body = client.post(
        "/api/indexes/default/search", json={"queries": queries, "k": 3, "mode": "dense"}
    ).json()
    assert [r["query"] for r in body["results"]] == queries
    single = client.get(
        "/api/indexes/default/search", params={"q": queries[1], "k": 3, "mode": "dense"}
    ).json()
    batched = body["results"][1]["hits"]
    # int8 activations are quantized per batch, so batching moves scores in the 5th decimal.
    assert [h["doc_id"] for h in batched] == [h["doc_id"] for h in single["hits"]]
    assert [h["score"] for h in batched] == pytest.approx(
        [h["score"] for h in single["hits"]], abs=1e-3
    )


def test_mojibake_and_zwj_spellings_find_the_same(client) -> None:
    def dense_ids(query: str) -> list[int]:
        response = client.get("/api/indexes/default/search", params={"q": query, "mode": "dense"})
        return [h["doc_id"] for h in response.json()["hits"]]

    expected = dense_ids(QUERY)
    assert dense_ids(QUERY.replace("\u200d", "")) == expected
    assert dense_ids(QUERY.encode("utf-8").decode("latin-1")) == expected


def test_writes_need_the_token(client) -> None:
    documents = {"documents": [{"text": "නුවර එළිය තේ වතු", "metadata": {"topic": "tea"}}]}
    url = "/api/indexes/small/documents"
    assert "Bearer" in error_of(client.post(url, json=documents), 401)
    error_of(client.post(url, json=documents, headers={"Authorization": "Bearer wrong"}), 403)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    added = client.post(url, json=documents, headers=headers).json()
    assert (added["added"], added["documents"]) == (1, 3)
    again = client.post(url, json=documents, headers=headers).json()
    assert (again["added"], again["skipped"]) == (0, 1)
    hits = client.get("/api/indexes/small/search", params={"q": "තේ වතු", "mode": "lexical"}).json()[
        "hits"
    ]
    assert hits[0]["text"] == "නුවර එළිය තේ වතු" and hits[0]["source"] == "api"
    doc_id = hits[0]["doc_id"]
    error_of(client.delete(f"/api/indexes/small/documents/{doc_id}"), 401)
    deleted = client.delete(f"/api/indexes/small/documents/{doc_id}", headers=headers)
    assert deleted.json() == {"deleted": 1}
    missing = error_of(
        client.delete(f"/api/indexes/small/documents/{doc_id}", headers=headers), 404
    )
    assert missing == f"No document with id {doc_id} in small"
    assert client.get("/api/indexes/small").json()["documents"] == 2


def test_without_a_token_the_server_is_read_only(read_only_client) -> None:
    response = read_only_client.post(
        "/api/indexes/small/documents",
        json={"documents": [{"text": "x"}]},
        headers={"Authorization": "Bearer anything"},
    )
    assert "read-only" in error_of(response, 403)
    assert read_only_client.get("/healthz").json()["writable"] is False


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": QUERY, "k": 0}, 422),
        ({"q": QUERY, "k": MAX_K + 1}, 422),
        ({"q": QUERY, "k": "many"}, 422),
        ({"q": QUERY, "mode": "fuzzy"}, 422),
        ({"q": "   "}, 400),
        ({"q": ""}, 400),
        ({}, 422),
        ({"q": QUERY, "where": "topic = "}, 400),
        ({"q": QUERY, "where": "1; DROP TABLE documents"}, 400),
        ({"q": "ක" * (MAX_QUERY_CHARS + 1)}, 413),
    ],
)
def test_bad_search_parameters(client, params, status) -> None:
    error_of(client.get("/api/indexes/default/search", params=params), status)


@pytest.mark.parametrize(
    ("name", "status", "said"),
    [
        ("..", 404, "Not Found"),  # the client resolves "/indexes/../search" itself
        (".hidden", 400, "Invalid index name"),
        ("a b", 400, "Invalid index name"),
        ("x" * 65, 400, "the limit is 64"),
        ("%2e%2e", 400, "Invalid index name '..'"),  # the server decodes it to "..", refused
        ("..%2Fx", 404, "Not Found"),  # decoded to "../x": no route has a "/" in a name
        ("nope", 404, "No index named 'nope'"),
    ],
)
def test_path_like_index_names(client, name, status, said) -> None:
    message = error_of(client.get(f"/api/indexes/{name}/search", params={"q": QUERY}), status)
    assert said in message


def test_unknown_index_is_404(client) -> None:
    assert "nope" in error_of(client.get("/api/indexes/nope"), 404)
    error_of(client.get("/api/indexes/nope/search", params={"q": QUERY}), 404)


def test_bad_bodies(client) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = "/api/indexes/default/search"
    error_of(client.post(url, json={"queries": []}), 422)
    error_of(client.post(url, json={"queries": [QUERY], "k": 1000}), 422)
    error_of(
        client.post(url, content=b"{not json", headers={"content-type": "application/json"}), 422
    )
    huge = b'{"queries": ["' + b"a" * (MAX_BODY_BYTES + 10) + b'"]}'
    error_of(client.post(url, content=huge, headers={"content-type": "application/json"}), 413)
    docs = "/api/indexes/small/documents"
    error_of(client.post(docs, json={"documents": []}, headers=headers), 422)
    error_of(client.post(docs, json={"documents": [{"text": 5}]}, headers=headers), 422)


def test_inputs_sqlite_cannot_take_are_4xx_not_500(client) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    search = "/api/indexes/default/search"
    many = " and ".join(f"line >= {i}" for i in range(1000))  # in a body: no URL limit
    body = {"queries": [QUERY], "where": many}
    assert "at most" in error_of(client.post(search, json=body), 400)
    some = " and ".join(f"line >= {i}" for i in range(40))
    assert "at most" in error_of(client.get(search, params={"q": QUERY, "where": some}), 400)
    huge = "line >= 99999999999999999999"
    assert "64-bit" in error_of(client.get(search, params={"q": QUERY, "where": huge}), 400)
    doc = "/api/indexes/small/documents/99999999999999999999999"
    error_of(client.delete(doc, headers=headers), 404)
    lone = b'{"queries": ["\\ud800"]}'
    assert "surrogate" in error_of(client.post(search, content=lone, headers=headers), 400)
    where = b'{"queries": ["x"], "where": "topic = \'\\udfff\'"}'
    assert "surrogate" in error_of(client.post(search, content=where, headers=headers), 400)
    before = client.get("/api/indexes/small").json()["documents"]
    body = b'{"documents": [{"text": "ok"}, {"text": "x\\ud800y"}]}'
    docs = "/api/indexes/small/documents"
    assert "surrogate" in error_of(client.post(docs, content=body, headers=headers), 400)
    meta = b'{"documents": [{"text": "ok", "metadata": {"\\udc80": 1}}]}'
    assert "surrogate" in error_of(client.post(docs, content=meta, headers=headers), 400)
    assert client.get("/api/indexes/small").json()["documents"] == before


def test_page_renders_results_highlighted_and_escaped(client) -> None:
    response = client.get("/", params={"q": "ශ්‍රී ලංකාව", "k": 5, "mode": "hybrid"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="si">' in html and "NotoSansSinhala" in client.get("/static/style.css").text
    assert html.count('class="hit"') == 5 and "<mark>" in html
    assert "සොයන්න" in html and "Search" in html
    assert 'href="/?index=default&amp;q=' in html  # the shareable link
    hostile = client.get("/", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in hostile.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.text
    assert client.get("/", params={"q": QUERY, "k": "5000"}).status_code == 400
    assert client.get("/", params={"q": QUERY, "index": "../x"}).status_code == 400
    assert client.get("/", params={"q": QUERY, "index": "nope"}).status_code == 404
    assert client.get("/").status_code == 200


def test_font_and_openapi_are_served(client) -> None:
    font = client.get("/static/NotoSansSinhala-Regular.woff2")
    assert font.status_code == 200 and font.content[:4] == b"wOF2"
    assert client.get("/static/OFL.txt").status_code == 200
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/indexes", "/api/indexes/{name}/search", "/api/indexes/{name}/documents"} <= set(
        paths
    )


def test_a_write_while_another_process_writes_is_409(client, index_dir) -> None:
    from sisearch.core.locking import WriterLock

    holder = WriterLock(index_dir / "small")
    holder.acquire()
    try:
        response = client.post(
            "/api/indexes/small/documents",
            json={"documents": [{"text": "මහනුවර"}]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        message = error_of(response, 409)
        assert "another process" in message and "small" in message
        assert str(index_dir) not in message and "pid" not in message
        gone = client.delete(
            "/api/indexes/small/documents/999999", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert str(index_dir) not in error_of(gone, 409)
        assert client.get("/api/indexes/small/search", params={"q": "කොළඹ"}).status_code == 200
    finally:
        holder.release()


def test_serve_command_help_and_missing_extra() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "--token" in result.output
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name == 'uvicorn': raise ImportError('no', name='uvicorn')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        "from sisearch.cli import main\n"
        "sys.argv = ['sisearch', 'serve']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert "pip install 'sisearch[serve]'" in result.stderr


def serve_in_a_process(folder: Path, *options: str) -> tuple[subprocess.Popen, int]:
    """`sisearch serve` on a free loopback port, once it accepts connections (at most 30 s)."""
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "sisearch", "serve", "--index-dir", str(folder)]
        + ["--port", str(port), *options],
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError(f"the server did not start: {server.communicate()[1][-2000:]}")


def test_sigterm_lets_a_write_in_flight_finish(tmp_path, tiny_model) -> None:
    import http.client
    import signal
    import time

    folder = tmp_path / "indexes"
    Index.create(folder / "default", model=tiny_model).close()
    server, port = serve_in_a_process(folder, "--token", TOKEN)
    try:
        lines = [line for line in CORPUS_JSONL.read_text(encoding="utf-8").splitlines()]
        texts = [json.loads(line)["text"] + f" {i}" for i in range(3) for line in lines]
        body = json.dumps({"documents": [{"text": t} for t in texts]}).encode()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.putrequest("POST", "/api/indexes/default/documents")
        for header, value in (
            ("Authorization", f"Bearer {TOKEN}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ):
            connection.putheader(header, value)
        connection.endheaders(body[: len(body) // 2])
        time.sleep(0.5)  # the request is in flight: its body is only half sent
        server.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        connection.send(body[len(body) // 2 :])
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["added"] == len(texts)
        # uvicorn finishes the request, shuts down, then re-raises the signal it caught.
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Traceback" not in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
    with Index.open(folder / "default") as index:
        assert index.info()["documents"] == len(texts)
        assert len(index.vectors.fresh()) == index.store.chunk_count()


def test_searches_stay_complete_while_another_process_indexes(client, index_dir) -> None:
    lines = [json.loads(line)["text"] for line in CORPUS_JSONL.read_text().splitlines()]
    extra = index_dir.parent / "more.txt"
    extra.write_text(
        "\n".join(f"{text} {i}" for i in range(6) for text in lines) + "\n", encoding="utf-8"
    )
    writer = subprocess.Popen(
        [sys.executable, "-m", "sisearch", "index", str(extra), "--index", "default"]
        + ["--index-dir", str(index_dir), "-q"]
    )
    answers = []
    try:
        for _ in range(2000):  # bounded; ends when the writer does
            response = client.get("/api/indexes/default/search", params={"q": QUERY, "k": 10})
            answers.append((response.status_code, len(response.json().get("hits", []))))
            if writer.poll() is not None:
                break
    finally:
        assert writer.wait(timeout=120) == 0
    assert len(answers) > 1 and set(answers) == {(200, 10)}
    assert client.get("/api/indexes/default").json()["documents"] == 312 + 6 * 312


def test_romanized_queries_through_the_api_and_the_page(client) -> None:
    typed = "sri lankawe aithihasika sthana"
    body = client.get("/api/indexes/default/search", params={"q": typed, "k": 3}).json()
    assert {h["transliteration"] for h in body["hits"]} == {"ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"}
    off = client.get(
        "/api/indexes/default/search", params={"q": typed, "mode": "lexical", "romanized": "off"}
    ).json()
    assert off["hits"] == []
    error_of(client.get("/api/indexes/default/search", params={"q": typed, "romanized": "x"}), 422)
    batch = client.post(
        "/api/indexes/default/search", json={"queries": [typed], "k": 2, "romanized": "on"}
    ).json()
    assert batch["results"][0]["hits"][0]["transliteration"] == "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"
    page = client.get("/", params={"q": typed}).text
    assert "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන" in page and "<mark>" in page


def test_a_taken_port_is_one_clear_line(tmp_path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(cli, ["serve", "--index-dir", str(tmp_path), "--port", port])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_a_write_never_closes_the_encoder_searches_share(tmp_path: Path, tiny_model) -> None:
    from sisearch.serve.registry import IndexRegistry

    with Index.create(tmp_path / "lent", model=tiny_model) as index:
        index.add(["කොළඹ වරාය", "ගාල්ල කොටුව"])
    registry = IndexRegistry(tmp_path)
    queries = [f"{QUERY} {number}" for number in range(400)]  # several batches: worker threads
    registry.search("lent", queries, 3, "dense", None)
    engine = registry.get("lent").encoder
    workers = engine._workers
    if workers is None:
        pytest.skip("one core: the encoder runs without worker threads")
    with registry.writer("lent") as writer:
        assert writer.encoder is engine
        writer.add(["මහනුවර දළදා මාළිගාව"])
    assert engine._workers is workers and not workers._shutdown
    hits = registry.search("lent", queries, 3, "dense", None)
    assert len(hits) == len(queries) and all(hits)
    registry.close()
    assert engine._workers is None


def test_a_streamed_body_over_the_limit_is_413(client) -> None:
    def chunks():
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536

    url = "/api/indexes/default/search"
    response = client.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert "over" in error_of(response, 413)


def test_the_token_is_checked_before_the_body_is_read(client, read_only_client) -> None:
    url = "/api/indexes/small/documents"
    bad = b"{not json"
    assert "Bearer" in error_of(client.post(url, content=bad), 401)
    wrong = {"Authorization": "Bearer wrong"}
    error_of(client.post(url, content=bad, headers=wrong), 403)
    error_of(read_only_client.post(url, content=bad, headers=wrong), 403)
    right = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    error_of(client.post(url, content=bad, headers=right), 422)
    error_of(client.delete("/api/indexes/small/documents/1"), 401)


def test_a_long_url_is_a_json_414(client) -> None:
    response = client.get("/api/indexes/default/search", params={"q": "ක" * 4_000})  # 36 KB encoded
    assert "URL" in error_of(response, 414)


def test_a_body_that_stops_arriving_is_408() -> None:
    import asyncio

    from sisearch.serve.gate import RequestGate

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the application must not run")

    async def stalled() -> dict:
        await asyncio.sleep(3600)
        return {}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    gate = RequestGate(app, lambda authorization: None, body_timeout=0.2)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/indexes/default/search",
        "raw_path": b"/api/indexes/default/search",
        "query_string": b"",
        "headers": [(b"content-length", b"100")],
    }
    asyncio.run(asyncio.wait_for(gate(scope, stalled, send), 10))
    assert sent[0]["status"] == 408
    assert "did not arrive" in json.loads(sent[1]["body"])["error"]


def test_the_real_server_answers_a_200_kb_request_line_with_json(tmp_path, tiny_model) -> None:
    import http.client

    folder = tmp_path / "indexes"
    Index.create(folder / "default", model=tiny_model).close()
    server, port = serve_in_a_process(
        folder, "--limit-concurrency", "8", "--timeout-keep-alive", "2"
    )
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/indexes/default/search?q=" + "a" * 200_000)
        response = connection.getresponse()
        assert response.status == 414
        assert "URL" in json.loads(response.read())["error"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_an_api_write_is_all_or_nothing(index_dir, monkeypatch) -> None:
    from sisearch.core.writer import IndexWriter

    app = create_app(Settings(index_dir, token=TOKEN))
    client = TestClient(app, raise_server_exceptions=False)

    embed = IndexWriter._embed

    def failing(self, documents, *args):
        if any("BOOM" in d.text for d in documents):
            raise RuntimeError("the encoder failed")
        return embed(self, documents, *args)

    monkeypatch.setattr(IndexWriter, "_embed", failing)
    before = client.get("/api/indexes/small").json()["documents"]
    texts = [f"කොළඹ පුවත {i}" for i in range(599)] + ["BOOM"]
    response = client.post(
        "/api/indexes/small/documents",
        json={"documents": [{"text": t} for t in texts]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert "internal error" in error_of(response, 500)
    assert client.get("/api/indexes/small").json()["documents"] == before
