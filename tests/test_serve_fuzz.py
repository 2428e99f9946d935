"""Hostile input over the HTTP API: generated requests, in process (no socket), bounded in
number; whatever a client sends, the answer is JSON and never a 500."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sisearch import Index
from sisearch.serve.app import Settings, create_app

TOKEN = "fuzz-token"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text as clients send it: Sinhala, joiners, Latin, digits, FTS5 and filter syntax, controls.
ALPHABET = st.sampled_from(
    list("කගචජටඩතදනපබමයරලවසහළාිීුූෙේොෝ්ංඃ\u200d\u200c abcxyz019'\"*():=<>!-_^,;.%\\\n\t\x00")
)
TEXT = st.text(ALPHABET, max_size=60)
# JSON string contents with escapes json.loads turns into lone surrogates and controls.
ESCAPED = st.lists(
    st.one_of(TEXT.map(lambda t: json.dumps(t)[1:-1]), st.sampled_from(["\\ud800", "\\udfff"])),
    max_size=4,
).map("".join)
NUMBER = st.one_of(st.integers(), st.integers(min_value=2**62), st.floats(allow_nan=True))
WHERE = st.one_of(
    TEXT,
    st.builds(
        lambda field, op, value: f"{field} {op} {value}",
        st.sampled_from(["line", "source", "topic", "x.y", '"q"']),
        st.sampled_from(["=", "!=", "<", ">=", "<>", "=="]),
        st.one_of(st.integers().map(str), TEXT.map(lambda t: "'" + t.replace("'", "''") + "'")),
    ),
    st.integers(0, 60).map(lambda n: " and ".join(["line >= 1"] * n)),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("fuzz") / "indexes"
    with Index.create(folder / "default", model=tiny_model) as index:
        index.add(
            [
                "ශ්‍රී ලංකාව දිවයිනකි",
                "කොළඹ වරාය",
                "ගාල්ල කොටුව පැරණි බලකොටුවකි",
                "sigiriya rock fortress",
            ]
        )
    app = create_app(Settings(folder, token=TOKEN))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def answered(response) -> None:
    """A status below 500 with a JSON body; an error is {"error": one line}."""
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"error"} and "\n" not in body["error"], body


@FUZZ
@given(
    q=TEXT,
    k=st.one_of(st.integers(-5, 200), TEXT),
    mode=st.one_of(st.sampled_from(["hybrid", "dense", "lexical"]), TEXT),
    where=WHERE,
    romanized=st.one_of(st.sampled_from(["auto", "on", "off"]), TEXT),
)
def test_get_search_never_500(client, q, k, mode, where, romanized) -> None:
    params = {"q": q, "k": k, "mode": mode, "where": where, "romanized": romanized}
    answered(client.get("/api/indexes/default/search", params=params))


@FUZZ
@given(
    queries=st.lists(ESCAPED, max_size=5),
    k=NUMBER,
    where=st.one_of(WHERE.map(lambda w: json.dumps(w)[1:-1]), ESCAPED),
    extra=st.sampled_from(["", ', "mode": "lexical"', ', "romanized": 7', ', "k": null']),
)
def test_post_search_never_500(client, queries, k, where, extra) -> None:
    body = (
        '{"queries": [' + ", ".join(f'"{q}"' for q in queries) + "]"
        f', "k": {json.dumps(k)}, "where": "{where}"{extra}}}'
    )
    headers = {"content-type": "application/json"}
    answered(client.post("/api/indexes/default/search", content=body.encode(), headers=headers))


@FUZZ
@given(
    texts=st.lists(ESCAPED, min_size=1, max_size=4),
    key=ESCAPED,
    value=st.one_of(NUMBER, ESCAPED.map(lambda e: json.loads(f'"{e}"'))),
    source=ESCAPED,
)
def test_post_documents_never_500(client, texts, key, value, source) -> None:
    documents = [
        f'{{"text": "{t}", "metadata": {{"{key}": {json.dumps(value)}}}, "source": "{source}"}}'
        for t in texts
    ]
    body = '{"documents": [' + ", ".join(documents) + "]}"
    headers = {"content-type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    answered(client.post("/api/indexes/default/documents", content=body.encode(), headers=headers))


@FUZZ
@given(doc_id=st.one_of(st.integers(), st.integers(min_value=2**63), TEXT), name=TEXT)
def test_delete_and_odd_paths_never_500(client, doc_id, name) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    doc_id, name = quote(str(doc_id), safe=""), quote(name, safe="")
    answered(client.delete(f"/api/indexes/default/documents/{doc_id}", headers=headers))
    answered(client.get(f"/api/indexes/{name}"))


def test_the_index_still_works_after_the_fuzzing(client) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"documents": [{"text": "මහනුවර දළදා මාළිගාව"}]}
    assert client.post("/api/indexes/default/documents", json=body, headers=headers).is_success
    params = {"q": "දළදා මාළිගාව", "mode": "lexical"}
    hits = client.get("/api/indexes/default/search", params=params).json()["hits"]
    assert hits[0]["text"] == "මහනුවර දළදා මාළිගාව"
