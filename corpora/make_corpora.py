"""Write the sample corpora from the hand-written passages in source/ (one topic a file).

    python corpora/make_corpora.py

Outputs, both committed so nobody needs to run this:
- sinhala_passages.txt: one passage a line, topic by topic.
- sinhala_passages.jsonl: the same passages with "id" and "topic" metadata.

Real Sinhala text is inconsistent about the ZWJ of yansaya and rakaransaya, so every
seventh passage is written without its ZWJs (the rest keep them): the corpus then
exercises the normalization that makes both spellings meet.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZWJ = "\u200d"


def passages() -> list[tuple[str, str, str]]:
    """(id, topic, text) for every source passage, in a stable order."""
    rows = []
    for file in sorted((HERE / "source").glob("*.txt")):
        topic = file.stem
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
        for number, text in enumerate((t for t in lines if t), start=1):
            rows.append((f"{topic}-{number:02d}", topic, text))
    return [
        (pid, topic, text.replace(ZWJ, "") if i % 7 == 3 else text)
        for i, (pid, topic, text) in enumerate(rows)
    ]


def main() -> None:
    rows = passages()
    with open(HERE / "sinhala_passages.txt", "w", encoding="utf-8") as txt:
        txt.writelines(text + "\n" for _, _, text in rows)
    with open(HERE / "sinhala_passages.jsonl", "w", encoding="utf-8") as jsonl:
        for pid, topic, text in rows:
            record = {"id": pid, "topic": topic, "text": text}
            jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(rows)} passages, {len({t for _, t, _ in rows})} topics")


if __name__ == "__main__":
    main()
