"""Write romanized ("Singlish") versions of queries.jsonl, as people type them, BEIR style.

    python corpora/make_romanized.py

- queries_romanized.jsonl: general typing, as in the IndoNLP-2025 Singlish pairs: vowel
  length mostly not marked (ා, ේ, ෝ as a, e, o; ී and ූ as ee and oo), "th" for ත, "w"
  for ව, "sh" for ශ/ෂ, "n" for ං, joiners gone.
- queries_adhoc.jsonl: ad-hoc typing on a phone: the same, with the inherent vowel of
  inner syllables dropped ("prshnyk" for ප්‍රශ්නයක්).
Same ids as queries.jsonl, so qrels.tsv judges them:
`sisearch eval retrieval --queries corpora/queries_romanized.jsonl --qrels corpora/qrels.tsv`.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

CONSONANTS = {
    "ක": "k", "ඛ": "kh", "ග": "g", "ඝ": "gh", "ඟ": "ng", "ච": "ch", "ඡ": "chh", "ජ": "j",
    "ඣ": "jh", "ඤ": "gn", "ඥ": "gn", "ට": "t", "ඨ": "t", "ඩ": "d", "ඪ": "d", "ණ": "n",
    "ඬ": "nd", "ත": "th", "ථ": "th", "ද": "d", "ධ": "dh", "න": "n", "ඳ": "nd", "ප": "p",
    "ඵ": "p", "බ": "b", "භ": "bh", "ම": "m", "ඹ": "mb", "ය": "y", "ර": "r", "ල": "l",
    "ළ": "l", "ව": "w", "ශ": "sh", "ෂ": "sh", "ස": "s", "හ": "h", "ෆ": "f",
}  # fmt: skip
SIGNS = {
    "ා": "a", "ැ": "a", "ෑ": "a", "ි": "i", "ී": "ee", "ු": "u", "ූ": "oo", "ෘ": "ru",
    "ෙ": "e", "ේ": "e", "ෛ": "ai", "ො": "o", "ෝ": "o", "ෞ": "au", "්": "",
}  # fmt: skip
VOWELS = {
    "අ": "a", "ආ": "a", "ඇ": "a", "ඈ": "a", "ඉ": "i", "ඊ": "ee", "උ": "u", "ඌ": "oo",
    "එ": "e", "ඒ": "e", "ඓ": "ai", "ඔ": "o", "ඕ": "o", "ඖ": "au", "ං": "n", "ඃ": "h",
}  # fmt: skip


def romanize_word(word: str, drop_inner_vowels: bool) -> str:
    out: list[str] = []
    chars = [c for c in word if c not in "\u200d\u200c"]
    for i, ch in enumerate(chars):
        if ch in CONSONANTS:
            out.append(CONSONANTS[ch])
            following = chars[i + 1] if i + 1 < len(chars) else ""
            if following not in SIGNS:  # the inherent vowel
                inner = i > 0 and following and following in CONSONANTS
                out.append("" if drop_inner_vowels and inner else "a")
        elif ch in SIGNS:
            out.append(SIGNS[ch])
        else:
            out.append(VOWELS.get(ch, ch))
    return "".join(out)


def romanize(text: str, drop_inner_vowels: bool = False) -> str:
    return " ".join(romanize_word(w, drop_inner_vowels) for w in text.split())


def main() -> None:
    queries = [json.loads(line) for line in (HERE / "queries.jsonl").read_text().splitlines()]
    for name, drop in (("queries_romanized.jsonl", False), ("queries_adhoc.jsonl", True)):
        with open(HERE / name, "w", encoding="utf-8") as f:
            for query in queries:
                record = {
                    "_id": query["_id"],
                    "text": romanize(query["text"], drop),
                    "metadata": {**query["metadata"], "sinhala": query["text"]},
                }
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"wrote {name}: {len(queries)} queries")


if __name__ == "__main__":
    main()
