"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009) of ranked id lists.

A document's fused score is the sum over the lists that contain it of w / (k + rank),
ranks starting at 1, with a weight w per list (1 unless given). k = 60 is the paper's
constant: it damps the head of each list so that one side's first place does not outvote
agreement between the sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]],
    k: int = RRF_K,
    weights: Mapping[str, float] | None = None,
) -> list[tuple[int, float, dict[str, int]]]:
    """Fuse ranked lists of ids: (id, fused score, {list name: rank}) best first.

    `weights`: a list's weight (default 1). Ties are broken by the best single rank, then
    by id, so the order is deterministic.
    """
    scores: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, ids in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            ranks.setdefault(item, {})[name] = rank
    order = sorted(scores, key=lambda i: (-scores[i], min(ranks[i].values()), i))
    return [(item, scores[item], ranks[item]) for item in order]
