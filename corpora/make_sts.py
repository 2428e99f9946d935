"""Write the Sinhala STS pairs (sentence_0, sentence_1, label in [0, 1]), split train / test.

    python corpora/make_sts.py

Labels, by how each pair was made:
- a passage and a paraphrase written for it (source/paraphrases.tsv): 0.7-0.9, graded by
  hand by how much of the passage the paraphrase keeps;
- two passages on the same event or thing (RELATED below): 0.5-0.65, graded by hand;
- two different passages of the same topic: 0.3;
- passages of different topics: 0.0.
Passages 07 and 08 of every topic (with their paraphrases and same-topic partners
17 and 18) form the test split; no test sentence appears in a training pair.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAME_TOPIC, OTHER_TOPIC = 0.3, 0.0
RELATED = {
    ("sports-01", "sports-02"): 0.65,
    ("health-01", "health-02"): 0.6,
    ("culture-03", "culture-04"): 0.6,
    ("history-03", "history-04"): 0.6,
    ("agriculture-01", "agriculture-02"): 0.5,
    ("tourism-06", "tourism-19"): 0.5,
    ("transport-07", "transport-08"): 0.65,
    ("environment-06", "environment-24"): 0.5,
    ("history-05", "history-06"): 0.55,
    ("economy-01", "economy-05"): 0.55,
    ("education-01", "education-02"): 0.5,
    ("food-05", "food-06"): 0.6,
    ("culture-01", "culture-02"): 0.6,
    ("sports-03", "sports-04"): 0.5,
    ("technology-05", "technology-09"): 0.55,
    ("economy-03", "economy-04"): 0.5,
}


def passages() -> dict[str, str]:
    out = {}
    for file in sorted((HERE / "source").glob("*.txt")):
        lines = [t.strip() for t in file.read_text(encoding="utf-8").splitlines() if t.strip()]
        for number, text in enumerate(lines, start=1):
            out[f"{file.stem}-{number:02d}"] = text
    return out


def is_test(pid: str) -> bool:
    return pid.endswith(("-07", "-08"))


def main() -> None:
    text = passages()
    topics = sorted({pid.rsplit("-", 1)[0] for pid in text})
    rows: list[tuple[str, str, float, bool]] = []
    for line in (HERE / "source" / "paraphrases.tsv").read_text(encoding="utf-8").splitlines():
        pid, label, paraphrase = line.split("\t")
        rows.append((text[pid], paraphrase, float(label), is_test(pid)))
    for (a, b), label in RELATED.items():
        rows.append((text[a], text[b], label, is_test(a) or is_test(b)))
    for t, topic in enumerate(topics):
        other = topics[(t + 1) % len(topics)]
        for n in range(1, 9):
            pid = f"{topic}-{n:02d}"
            same = f"{topic}-{n + 10:02d}"
            far = f"{other}-{n + 18:02d}"
            rows.append((text[pid], text[same], SAME_TOPIC, is_test(pid)))
            rows.append((text[pid], text[far], OTHER_TOPIC, is_test(pid)))
    for split in ("train", "test"):
        with open(HERE / f"sts_{split}.csv", "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["sentence_0", "sentence_1", "label"])
            for s0, s1, label, test in rows:
                if test == (split == "test"):
                    writer.writerow([s0, s1, f"{label:.2f}"])
    test_count = sum(r[3] for r in rows)
    print(f"{len(rows)} pairs: {len(rows) - test_count} train, {test_count} test")


if __name__ == "__main__":
    main()
