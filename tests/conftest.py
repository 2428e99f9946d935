"""Shared fixtures: a tiny encoder of the real architecture, built offline once per run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from sisearch.cli import cli
from sisearch.encoders.devmodel import build_encoder

# Tests never share encoder exports through the user's cache (tests of the cache set their own),
# and nothing a test installs (a default model) lands in the user's ~/.cache.
os.environ["SISEARCH_CACHE_DIR"] = "off"
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="sisearch-test-cache-")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpora" / "sinhala_passages.txt"
CORPUS_JSONL = ROOT / "corpora" / "sinhala_passages.jsonl"
# The fields of a hit, as `Hit.to_dict()`, the HTTP API and `query --json` (plus "query") give.
HIT_FIELDS = {
    "rank",
    "score",
    "cosine",
    "doc_id",
    "text",
    "source",
    "line",
    "metadata",
    "dense_rank",
    "lexical_rank",
    "transliteration",
    "origin",
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer XLM-R SentenceTransformer with a tokenizer trained on the sample corpus."""
    out = tmp_path_factory.mktemp("models") / "tiny"
    texts = CORPUS.read_text(encoding="utf-8").splitlines()
    return str(build_encoder(out, texts, size="tiny", seed=0))


@pytest.fixture(scope="session")
def other_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Same architecture and tokenizer data, different weights: must not share an index."""
    out = tmp_path_factory.mktemp("models") / "other"
    texts = CORPUS.read_text(encoding="utf-8").splitlines()
    return str(build_encoder(out, texts, size="tiny", seed=1))


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model: str):
    from sisearch.encoders.encoder import load_encoder

    return load_encoder(tiny_model)


@pytest.fixture
def pytorch_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """New indexes load their model with PyTorch and export it from there, as models the
    direct exporter does not take are (encoders/direct_export.py)."""
    monkeypatch.setattr("sisearch.index.direct_engine", lambda *args, **kwargs: None)


@pytest.fixture
def corpus_lines() -> list[str]:
    return [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke the CLI in tmp_path with indexes in tmp_path/indexes; returns the Result."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SISEARCH_INDEX_DIR", raising=False)
    monkeypatch.delenv("SISEARCH_MODEL", raising=False)

    def invoke(*args: str, input: str | bytes | None = None):
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke
