"""The saved vocabulary: the keyword table's words with their document counts, for reading
romanized queries, kept beside the store so nobody reads it from SQLite (1.8 s at 1M
passages, bench/romanized.py).

`vocabulary.tsv` holds the words as of one store generation; `vocabulary.delta.tsv` the
changes of each write since (a record per write: `# delta START END`, a word and a signed
count a line, `# end END`), appended, so a small write costs what it changed instead of
rewriting every word (a 3-passage write at 1M passages rewrote a file of hundreds of
thousands of words). Past a tenth of the base file's size the next write folds the deltas
into a new `vocabulary.tsv`. A record cut short by a crash has no end line: the chain
stops before it, and the next write rewrites the file. Both are derived data: whatever is
missing is read from SQLite again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

VOCABULARY_FILE = "vocabulary.tsv"
DELTA_FILE = "vocabulary.delta.tsv"
# Deltas are folded into the base once they pass this share of its size (and this floor).
FOLD_SHARE = 0.1
MIN_FOLD_BYTES = 65536


def load(folder: Path, generation: int) -> list[tuple[str, int]] | None:
    """The vocabulary (word, document count) at `generation`, or None if the files do not
    reach it."""
    try:
        with open(folder / VOCABULARY_FILE, encoding="utf-8") as f:
            base = _generation_of(f.readline(), "generation")
            if base is None or base > generation:
                return None
            counts = [(word, int(count)) for word, count in (line.split("\t") for line in f)]
    except (OSError, ValueError):
        return None
    if base == generation:
        return counts
    changes = _deltas(folder, base, generation)
    if changes is None:
        return None
    merged = dict(counts)
    for word, change in changes.items():
        merged[word] = merged.get(word, 0) + change
    return sorted((word, count) for word, count in merged.items() if count > 0)


def save(folder: Path, generation: int, counts: Sequence[tuple[str, int]]) -> None:
    """Write the whole vocabulary as of `generation`, atomically, and drop the deltas."""
    file = folder / VOCABULARY_FILE
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(f"# generation {generation}\n")
            f.writelines(f"{word}\t{count}\n" for word, count in counts)
        os.replace(temporary, file)
    finally:
        temporary.unlink(missing_ok=True)
    (folder / DELTA_FILE).unlink(missing_ok=True)


def append(folder: Path, start: int, end: int, changes: Mapping[str, int]) -> bool:
    """Append one write's changes (store generations `start` -> `end`); False, writing
    nothing, where the files do not reach `start` or the deltas are due to be folded."""
    try:
        with open(folder / VOCABULARY_FILE, encoding="utf-8") as f:
            base = _generation_of(f.readline(), "generation")
        base_bytes = (folder / VOCABULARY_FILE).stat().st_size
    except (OSError, UnicodeDecodeError):
        return False
    if base is None:
        return False
    lines = [f"{word}\t{change:+d}\n" for word, change in sorted(changes.items()) if change]
    record = f"# delta {start} {end}\n{''.join(lines)}# end {end}\n".encode()
    delta = folder / DELTA_FILE
    limit = max(MIN_FOLD_BYTES, FOLD_SHARE * base_bytes)
    if base == start:
        if len(record) > limit:
            return False
        with open(delta, "wb") as f:
            f.write(f"# base {base}\n".encode() + record)
        return True
    try:
        size = delta.stat().st_size
        with open(delta, "rb") as f:
            first = f.readline().decode("utf-8")
            f.seek(max(0, size - 64))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return False
    if _generation_of(first, "base") != base or not tail.endswith(f"\n# end {start}\n"):
        return False
    if size + len(record) > limit:
        return False
    with open(delta, "ab") as f:
        f.write(record)
    return True


def _deltas(folder: Path, base: int, generation: int) -> dict[str, int] | None:
    """The summed changes of the records leading from `base` to `generation`."""
    try:
        with open(folder / DELTA_FILE, encoding="utf-8") as f:
            if _generation_of(f.readline(), "base") != base:
                return None
            changes: dict[str, int] = {}
            record: dict[str, int] = {}
            at, reading = base, False
            for line in f:
                if line.startswith("# delta "):
                    start, end = (int(x) for x in line.split()[2:4])
                    if start != at:
                        return None
                    record, reading = {}, True
                elif line.startswith("# end "):
                    if not reading:
                        return None
                    for word, change in record.items():
                        changes[word] = changes.get(word, 0) + change
                    at, reading = end, False
                    if at == generation:
                        return changes
                else:
                    word, change = line.rstrip("\n").split("\t")
                    record[word] = record.get(word, 0) + int(change)
    except (OSError, ValueError):
        return None
    return None


def _generation_of(line: str, label: str) -> int | None:
    parts = line.split()
    if len(parts) != 3 or parts[:2] != ["#", label]:
        return None
    try:
        return int(parts[2])
    except ValueError:
        return None
