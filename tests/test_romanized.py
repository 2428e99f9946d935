"""Romanized Sinhala ("Singlish") queries: readings guided by the index's own vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sisearch import Index, InvalidQuery
from sisearch.cli import cli
from sisearch.documents.corpus import read_corpus
from sisearch.language.lexical import query_terms
from sisearch.language.romanized import Vocabulary, is_romanized, read_word, transliterate
from sisearch.language.text import lexical_key, normalize
from tests.conftest import CORPUS_JSONL


def vocabulary(*words: str, counts: dict[str, int] | None = None) -> Vocabulary:
    keys = [lexical_key(normalize(w)) for w in words]
    return Vocabulary((key, (counts or {}).get(word, 1)) for key, word in zip(keys, words))


def reads(latin: str, *words: str, counts: dict[str, int] | None = None) -> str:
    return normalize(read_word(latin, vocabulary(*words, counts=counts), 3)[0])


@pytest.mark.parametrize(
    ("latin", "sinhala", "decoys"),
    [
        ("aadaraya", "ආදරය", ["අදරය"]),  # long vowel typed double
        ("adaraya", "ආදරය", []),  # ... or single
        ("kumara", "කුමාර", ["කුමර"]),
        ("bhikshuwa", "භික්ෂුව", ["බික්ෂුව"]),  # aspirate
        ("dharmaya", "ධර්මය", ["දර්මය"]),
        ("sri", "ශ්‍රී", ["ශ්‍රි"]),  # rakaransaya with its ZWJ
        ("prashnaya", "ප්‍රශ්නය", []),
        ("lankawa", "ලංකාව", ["ලන්කාව"]),  # anusvara from "n"
        ("sandaya", "සඳය", ["සන්දය"]),  # nasal cluster nd
        ("ambalama", "අඹලම", []),  # mb
        ("ganga", "ගඟ", []),  # ng
        ("wathura", "වතුර", ["වටුර"]),  # th / w
        ("vathura", "වතුර", []),  # v for w
        ("shanthi", "ශාන්ති", ["සාන්ති"]),  # sh
        ("aeththa", "ඇත්ත", ["අත්ත"]),  # ae
        ("mta", "මට", ["මත"]),  # a dropped vowel, guided by frequency below
    ],
)
def test_mapping_cases(latin: str, sinhala: str, decoys: list[str]) -> None:
    counts = {sinhala: 20, **{d: 1 for d in decoys}}
    assert reads(latin, sinhala, *decoys, counts=counts) == normalize(sinhala)


def test_the_vocabulary_and_its_frequencies_choose() -> None:
    assert reads("kala", "කළ") == "කළ"
    assert reads("kala", "කල", "කළ", counts={"කල": 2, "කළ": 60}) == "කළ"
    assert reads("kala", "කල", "කළ", counts={"කල": 60, "කළ": 2}) == "කල"


def test_a_word_outside_the_vocabulary_gets_a_rule_reading() -> None:
    assert reads("ahanna", "ලංකාව") == "අහන්න"


def test_mixed_queries_read_only_the_latin_words_the_index_lacks() -> None:
    words = vocabulary("ශ්‍රී", "ලංකාවේ", "firefox", "browser")
    reading = transliterate("ශ්‍රී lankawe", words)
    assert reading is not None and reading.text == "ශ්‍රී ලංකාවේ"
    assert transliterate("Firefox ලංකාවේ", words) is None
    reading = transliterate("firefox lankawe", words)
    assert reading is not None and reading.text == "firefox ලංකාවේ"
    assert transliterate("firefox lankawe", words, mode="on").text.startswith("ෆ")


def test_words_the_index_holds_whole_stay_digits_included() -> None:
    words = vocabulary("5g", "z", "ලකුණු", "සී", counts={"සී": 40})
    assert transliterate("5G", words) is None
    assert transliterate("Z ලකුණු", words) is None  # mixed: held at all is enough
    reading = transliterate("5G lakunu", words)
    assert reading is not None and reading.text == "5G ලකුණු"


def test_sinhala_queries_and_off_are_untouched() -> None:
    words = vocabulary("ලංකාවේ")
    assert transliterate("ශ්‍රී ලංකාවේ", words) is None
    assert transliterate("lankawe", words, mode="off") is None
    assert is_romanized("sri lankawe 2024") and not is_romanized("ශ්‍රී lankawe")


def test_english_queries_are_searched_as_typed_in_auto_mode() -> None:
    # Sinhala words that some English words happen to read as: තේ (tea) for "the", ඉන්
    # for "in", ඊට for "it", වැසි (rain) for "was", ශ්‍රී ලංකා for "Sri Lanka".
    words = vocabulary("තේ", "ඉන්", "ඊට", "වැසි", "ශ්‍රී", "ලංකා", "ලංකාවේ", "ඓතිහාසික", "ස්ථාන")
    for english in (
        "ancient cities of Sri Lanka",
        "the rain in the hills",
        "It was the tea",
    ):
        assert transliterate(english, words) is None, english
    reading = transliterate("sri lankawe aithihasika sthana", words)
    assert reading is not None and reading.text == "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"
    assert transliterate("sri lanka", words).text == "ශ්‍රී ලංකා"
    assert transliterate("the rain in the hills", words, mode="on") is not None


@pytest.fixture(scope="module")
def sample(tmp_path_factory, tiny_encoder) -> Index:
    index = Index.create(tmp_path_factory.mktemp("roman") / "ix", encoder=tiny_encoder)
    index.add(read_corpus(CORPUS_JSONL))
    return index


@pytest.mark.parametrize(
    ("typed", "sinhala"),
    [
        ("sri lankawe aithihasika sthana", "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"),
        ("kolamba waraya", "කොළඹ වරාය"),
        ("dengu rogaya", "ඩෙංගු රෝගය"),
        ("siigiriya", "සීගිරිය"),
        ("sigiriya", "සීගිරිය"),
    ],
)
def test_sample_corpus_queries(sample: Index, typed: str, sinhala: str) -> None:
    for mode in ("lexical", "hybrid", "dense"):
        hits = sample.search(typed, limit=5, mode=mode)
        assert hits and {h.transliteration for h in hits} == {sinhala}
    lexical = sample.search(typed, limit=5, mode="lexical")
    native = sample.search(sinhala, limit=5, mode="lexical")
    # The other readings of each word are searched too, so the tail may differ.
    assert lexical[0].doc_id == native[0].doc_id
    assert {h.doc_id for h in native[:3]} <= {h.doc_id for h in lexical}
    assert set(query_terms(sinhala)) & set(query_terms(lexical[0].text))


@pytest.mark.parametrize(
    ("typed", "held_together"),
    [("kolamba waraya", True), ("sri lankawe aithihasika sthana", False)],
)
def test_passages_holding_every_typed_word_come_first_in_hybrid(
    sample: Index, typed: str, held_together: bool
) -> None:
    hits = sample.search(typed, limit=20, mode="hybrid")
    words = set(query_terms(hits[0].transliteration))
    holds = [words <= set(query_terms(h.text)) for h in hits]
    assert holds[0] == held_together and holds == sorted(holds, reverse=True)
    assert all((h.score > 1) == held for h, held in zip(hits, holds))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    native = sample.search(hits[0].transliteration, limit=20, mode="hybrid")
    assert all(h.score < 1 for h in native)  # Sinhala as typed: plain fusion


def test_ad_hoc_typing_with_dropped_vowels_finds_words(sample: Index) -> None:
    (hit,) = sample.search("krikt tharagaya", limit=1, mode="lexical")
    assert hit.transliteration == "ක්‍රිකට් තරගය"


def test_bad_romanized_setting(sample: Index) -> None:
    with pytest.raises(InvalidQuery, match="romanized"):
        sample.search("lankawa", romanized="maybe")


def test_cli_json_carries_the_transliteration(tmp_path: Path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["index", str(CORPUS_JSONL), "--model", tiny_model, "-q"]).exit_code == 0
    )

    def hits(*args: str) -> list[dict]:
        result = runner.invoke(cli, ["query", *args, "--json", "-k", "3"])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines()]

    typed = hits("sri lankawe aithihasika sthana")
    assert {h["transliteration"] for h in typed} == {"ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"}
    assert {h["transliteration"] for h in hits("ශ්‍රී ලංකාවේ")} == {None}
    off = hits("kolamba waraya", "--romanized", "off", "--mode", "lexical")
    assert off == []  # the Latin words are not in this Sinhala index
    table = runner.invoke(cli, ["query", "kolamba waraya", "-k", "2"])
    assert "searched: කොළඹ වරාය" in table.output
    nothing = ["query", "kolamba waraya", "--where", "topic = 'none'"]
    empty = runner.invoke(cli, nothing)  # no hit to carry it: the query still says it
    assert "searched: කොළඹ වරාය" in empty.output and "no results" in empty.output
    empty_json = runner.invoke(cli, [*nothing, "--json"])
    assert empty_json.stdout == ""
    assert "'kolamba waraya' was searched as 'කොළඹ වරාය'" in empty_json.stderr
    bad = runner.invoke(cli, ["query", "x", "--romanized", "maybe"])
    assert bad.exit_code == 2


def test_each_write_saves_the_vocabulary_so_a_query_does_not_read_it(
    tmp_path: Path, tiny_encoder, monkeypatch
) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(["කොළඹ වරාය", "ගාල්ල කොටුව", "කොළඹ නගරය"])
    index.close()
    saved = (tmp_path / "ix" / "vocabulary.tsv").read_text(encoding="utf-8").splitlines()
    reopened = Index.open(tmp_path / "ix")
    assert saved[0] == f"# generation {reopened.store.generation}"
    assert "කොළඹ\t2" in saved[1:]

    def no_scan(*args, **kwargs):
        raise AssertionError("the vocabulary was read from SQLite")

    monkeypatch.setattr(type(reopened.store), "vocabulary", no_scan)
    (hit,) = reopened.search("galla kotuwa", limit=1, mode="lexical")
    assert hit.transliteration == "ගාල්ල කොටුව"
    monkeypatch.undo()
    base = (tmp_path / "ix" / "vocabulary.tsv").read_bytes()
    reopened.delete([hit.doc_id])
    assert (tmp_path / "ix" / "vocabulary.tsv").read_bytes() == base  # the change appended
    saved = dict(reopened.state.load_vocabulary(reopened.store.generation))
    assert "ගාල්ල" not in saved and saved["කොළඹ"] == 2
    assert sorted(saved.items()) == sorted(reopened.store.vocabulary())


def test_vocabulary_changes_chain_fold_and_survive_a_torn_record(
    tmp_path: Path, tiny_encoder, monkeypatch
) -> None:
    from sisearch.core import vocabulary_file

    folder = tmp_path / "ix"
    index = Index.create(folder, encoder=tiny_encoder)
    index.add(["කොළඹ වරාය", "ගාල්ල කොටුව"])
    base = (folder / "vocabulary.tsv").read_bytes()
    index.add(["කොළඹ නගරය"])
    index.add(["මහනුවර දළදා මාළිගාව"])
    assert (folder / "vocabulary.tsv").read_bytes() == base
    delta = (folder / "vocabulary.delta.tsv").read_text(encoding="utf-8")
    assert delta.count("# delta ") == 2 and "කොළඹ\t+1" in delta

    def truth() -> list[tuple[str, int]]:
        return sorted(index.store.vocabulary())

    assert index.state.load_vocabulary(index.store.generation) == truth()
    with open(folder / "vocabulary.delta.tsv", "a", encoding="utf-8") as f:
        f.write("# delta 99 100\nකොළඹ\t+5\n")  # a write killed midway: no end line
    assert index.state.load_vocabulary(index.store.generation) == truth()
    index.add(["ගාල්ල වරාය"])  # the delta file no longer ends cleanly: rewritten whole
    assert not (folder / "vocabulary.delta.tsv").exists()
    assert index.state.load_vocabulary(index.store.generation) == truth()
    monkeypatch.setattr(vocabulary_file, "MIN_FOLD_BYTES", 0)
    index.add(["යාපනය"])  # deltas past a tenth of the base: folded into it
    assert not (folder / "vocabulary.delta.tsv").exists()
    saved = (folder / "vocabulary.tsv").read_text(encoding="utf-8").splitlines()
    assert saved[0] == f"# generation {index.store.generation}"
    assert index.state.load_vocabulary(index.store.generation) == truth()


def test_a_write_too_large_to_track_rescans_the_vocabulary(
    tmp_path: Path, tiny_encoder, monkeypatch
) -> None:
    import sisearch.core.writer

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(["කොළඹ වරාය"])
    monkeypatch.setattr(sisearch.core.writer, "TRACKED_TEXTS", 2)
    index.add(["ගාල්ල කොටුව", "මහනුවර දළදා මාළිගාව", "කොළඹ නගරය"])
    saved = index.state.load_vocabulary(index.store.generation)
    assert saved is not None and sorted(saved) == sorted(index.store.vocabulary())
    assert dict(saved)["කොළඹ"] == 2
