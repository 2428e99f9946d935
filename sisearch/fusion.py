"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009) of ranked id lists.

A document's fused score is the sum over the lists that contain it of 1 / (k + rank),
ranks starting at 1. k = 60 is the paper's constant: it damps the head of each list so
that one side's first place does not outvote agreement between the sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]], k: int = RRF_K
) -> list[tuple[int, float, dict[str, int]]]:
    """Fuse ranked lists of ids: (id, fused score, {list name: rank}) best first.

    Ties are broken by the best single rank, then by id, so the order is deterministic.
    """
    scores: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, ids in rankings.items():
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            ranks.setdefault(item, {})[name] = rank
    order = sorted(scores, key=lambda i: (-scores[i], min(ranks[i].values()), i))
    return [(item, scores[item], ranks[item]) for item in order]
