"""Small PNG plots of evaluation results, for people who would rather look than read.

matplotlib is imported only here, and only when a plot is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sts(
    cosines: Sequence[float], labels: Sequence[float], path: str | Path, title: str
) -> None:
    """Histograms of the encoder's cosine for similar (label >= 0.5) and dissimilar pairs."""
    plt = _pyplot()
    similar = [c for c, label in zip(cosines, labels) if label >= 0.5]
    dissimilar = [c for c, label in zip(cosines, labels) if label < 0.5]
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    # Bins over the observed range: an anisotropic encoder puts every cosine above 0.8.
    low, high = min(cosines), max(cosines)
    pad = max((high - low) * 0.05, 1e-3)
    bins = [low - pad + i * (high - low + 2 * pad) / 40 for i in range(41)]
    axes.hist(dissimilar, bins=bins, alpha=0.6, label=f"label < 0.5 ({len(dissimilar)})")
    axes.hist(similar, bins=bins, alpha=0.6, label=f"label >= 0.5 ({len(similar)})")
    axes.set_xlim(bins[0], bins[-1])
    axes.set_xlabel("cosine similarity")
    axes.set_ylabel("pairs")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_retrieval(
    recall_by_mode: Mapping[str, Mapping[int, float]], path: str | Path, title: str
) -> None:
    """Recall@k for k = 1..n, one line per search mode."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    for mode, by_k in recall_by_mode.items():
        ks = sorted(by_k)
        axes.plot(ks, [by_k[k] for k in ks], marker="o", label=mode)
    axes.set_xlabel("k")
    axes.set_ylabel("recall@k")
    axes.set_ylim(0, 1.02)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
