"""The compact tokenizer a cold query loads: the same ids as the whole tokenizer, for the
tiny stand-in's tokenizer and e5-small's real one, and the whole one wherever it cannot
stand in."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from sisearch import Index
from sisearch.encoders.compact_tokenizer import (
    COMPACT_FILE,
    MIN_PIECES,
    CompactUnigram,
    full_ids,
    write_compact,
)
from tests.conftest import CORPUS
from tests.test_e5_small import e5_folder, models_dir  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent


def strings() -> list[str]:
    """The project's Sinhala and romanized texts, and random mixtures of scripts, specials
    and marks that stress normalization, unknown characters and added tokens."""
    texts = CORPUS.read_text(encoding="utf-8").splitlines()
    texts += (ROOT / "corpora" / "queries_romanized.jsonl").read_text(encoding="utf-8").split('"')
    rng = random.Random(7)
    alphabet = [chr(c) for c in [*range(0x0D80, 0x0E00), *range(32, 127)]]
    alphabet += ["\u200d", "\u200c", "😀", "中", "Ω", "é", "ﬁ", "①", "\u00a0", "\t"]
    alphabet += ["<mask>", "<s>", "</s>"]
    for _ in range(1500):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))))
    return texts


def assert_same_ids(
    tokenizer_json: Path, tmp_path: Path, prefix: str = "", version: int = 2
) -> None:
    """Both forms: version 2 looks pieces up in its table from the first call; version 1
    (exports made before) scans on its first call and looks up from its second."""
    whole = Tokenizer.from_file(str(tokenizer_json))
    assert write_compact(
        tokenizer_json, tmp_path / COMPACT_FILE, whole, min_pieces=0, version=version
    )
    magic = (tmp_path / COMPACT_FILE).read_bytes()[:19]
    assert magic == f"sisearch-unigram-{version}\n".encode()
    compact = CompactUnigram.load(tmp_path / COMPACT_FILE)
    assert compact.special_tokens() == whole.num_special_tokens_to_add(False)
    texts = [prefix + text for text in strings()]
    compact.for_texts(texts[:1])  # from its second call on, it looks pieces up
    for start in range(0, len(texts), 50):  # one compact tokenizer per batch, as a query
        batch = texts[start : start + 50]
        first_call = CompactUnigram.load(tmp_path / COMPACT_FILE)  # scans the pieces
        kept = []
        for unigram in (first_call, compact):
            tokenizer, mapping = unigram.for_texts(batch)
            kept.append(len(mapping))
            for text, encoding in zip(batch, tokenizer.encode_batch(batch)):
                ids = full_ids(np.asarray(encoding.ids, dtype=np.int64), mapping).tolist()
                assert ids == whole.encode(text).ids, text
        assert kept[1] <= kept[0]  # a lookup keeps only substrings of the words


@pytest.mark.parametrize("version", [2, 1])
def test_the_stand_ins_tokenizer_gives_the_same_ids(
    tiny_model: str, tmp_path: Path, version: int
) -> None:
    assert_same_ids(Path(tiny_model) / "tokenizer.json", tmp_path, version=version)


@pytest.mark.parametrize("version", [2, 1])
def test_e5_smalls_tokenizer_gives_the_same_ids(
    e5_folder: Path,  # noqa: F811
    tmp_path: Path,
    version: int,
) -> None:
    whole = Tokenizer.from_file(str(e5_folder / "tokenizer.json"))
    assert whole.get_vocab_size() >= MIN_PIECES  # written by default for it
    assert_same_ids(e5_folder / "tokenizer.json", tmp_path, prefix="query: ", version=version)


def test_a_damaged_compact_form_is_refused(tiny_model: str, tmp_path: Path) -> None:
    whole = Tokenizer.from_file(str(Path(tiny_model) / "tokenizer.json"))
    target = tmp_path / COMPACT_FILE
    assert write_compact(Path(tiny_model) / "tokenizer.json", target, whole, min_pieces=0)
    data = target.read_bytes()
    for damaged in (data[: len(data) // 2], data[:30], data[:-3], b""):
        target.write_bytes(damaged)
        with pytest.raises(ValueError):
            CompactUnigram.load(target)


def test_small_tokenizers_are_left_whole(tiny_model: str, tmp_path: Path) -> None:
    """A 2,000-piece tokenizer loads whole in milliseconds: no compact form is written."""
    tokenizer_json = Path(tiny_model) / "tokenizer.json"
    whole = Tokenizer.from_file(str(tokenizer_json))
    assert not write_compact(tokenizer_json, tmp_path / COMPACT_FILE, whole)


def test_other_tokenizers_are_left_whole(tmp_path: Path) -> None:
    word_level = Tokenizer(models.WordLevel({"[UNK]": 0, "ශ්‍රී": 1}, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    word_level.save(str(tmp_path / "tokenizer.json"))
    target = tmp_path / COMPACT_FILE
    assert not write_compact(tmp_path / "tokenizer.json", target, word_level, min_pieces=0)
    assert not (tmp_path / COMPACT_FILE).exists()


def test_a_cold_query_uses_the_compact_form_and_finds_the_same(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sisearch.encoders import compact_tokenizer

    monkeypatch.setattr(compact_tokenizer, "MIN_PIECES", 0)  # the stand-in's is small
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[:60]
    with Index.create(tmp_path / "index", model=tiny_model) as index:
        index.add(lines)
    compact = tmp_path / "index" / "encoder" / COMPACT_FILE
    assert compact.exists()  # written with the export
    with Index.open(tmp_path / "index") as index:
        quick = [(h.doc_id, round(h.score, 6)) for h in index.search(lines[7], 5)]
        assert index.encoder._tokenizer is None  # the whole one was never loaded
    with Index.open(tmp_path / "index") as index:  # a write encodes with the whole one
        index.add(lines[:3] + ["අලුත් ඡේදයක්"])
        assert index.encoder._tokenizer is not None
    compact.write_bytes(b"damaged")
    with Index.open(tmp_path / "index") as index:
        whole = [(h.doc_id, round(h.score, 6)) for h in index.search(lines[7], 5)]
        assert index.encoder._tokenizer is not None
    assert quick == whole
    assert CompactUnigram.load(compact)  # rewritten beside the whole tokenizer it loaded


def test_the_stand_in_is_built_from_the_sample_corpus_by_default() -> None:
    """`python -m sisearch.encoders.devmodel` and the benches' base-size model train their
    tokenizer on the sample corpus unless told otherwise."""
    from sisearch.encoders.devmodel import DEFAULT_CORPUS

    assert DEFAULT_CORPUS == CORPUS and DEFAULT_CORPUS.is_file()


def test_a_server_loads_the_whole_tokenizer_beside_its_first_queries(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-lived reader stops building a compact tokenizer per query (10-25 ms with
    e5-small): the registry has the whole one loaded off the request threads."""
    import time

    from sisearch.encoders import compact_tokenizer
    from sisearch.serve.registry import IndexRegistry

    monkeypatch.setattr(compact_tokenizer, "MIN_PIECES", 0)
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[:20]
    with Index.create(tmp_path / "indexes" / "news", model=tiny_model) as index:
        index.add(lines)
    registry = IndexRegistry(tmp_path / "indexes")
    try:
        (first,) = registry.search("news", [lines[3]], 5, "dense", None)
        encoder = registry.get("news").encoder
        deadline = time.monotonic() + 60
        while encoder._tokenizer is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert encoder._tokenizer is not None
        (again,) = registry.search("news", [lines[3]], 5, "dense", None)
        assert again == first
    finally:
        registry.close()
