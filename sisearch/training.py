"""Fine-tune a sentence encoder on Sinhala STS pairs with the seed model's recipe.

The recipe of the fine-tuned encoder: CosineSimilarityLoss (the MSE between the cosine of
the two embeddings and the label), batch size 4, 1 epoch, learning rate 5e-5, AdamW
(weight decay 0.01), a linear schedule without warmup, gradient norm clipped at 1, seed
42, max_seq_length 128. A plain PyTorch loop keeps it deterministic for a seed on CPU.

The model is written to a temporary folder beside the target and renamed into place
when training and saving are complete, so an interrupted run never leaves a folder that
looks like a finished model.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .encoder import load_encoder
from .errors import OutputExists
from .sts import StsPair, score_sts

TRAINING_FILE = "sisearch_training.json"


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters; the defaults are the seed encoder's recipe."""

    epochs: int = 1
    batch_size: int = 4
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    max_seq_length: int = 128
    seed: int = 42
    max_steps: int | None = None


@dataclass
class TrainingResult:
    """What a run did and how the model scored before and after (Spearman, Pearson)."""

    out: str
    steps: int
    train_pairs: int
    final_loss: float
    scores_before: dict[str, float] = field(default_factory=dict)
    scores_after: dict[str, float] = field(default_factory=dict)


def train(
    base: str,
    pairs: list[StsPair],
    out: str | Path,
    config: TrainingConfig = TrainingConfig(),
    eval_pairs: list[StsPair] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> TrainingResult:
    """Fine-tune `base` (hub id or folder) on `pairs` and save it to `out`.

    `progress(step, total_steps, loss)` is called after every step. Raises
    OutputExists if `out` exists, ModelLoadError if the base cannot be loaded.
    """
    import random

    import numpy as np
    import torch

    out = Path(out)
    if out.exists():
        raise OutputExists(f"{out} already exists; choose another --out or remove it first")
    encoder = load_encoder(base, "", "")
    model = encoder.model
    model.max_seq_length = config.max_seq_length
    scores_before = score_sts(encoder, eval_pairs) if eval_pairs else {}

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    order = torch.Generator().manual_seed(config.seed)
    batches_per_epoch = (len(pairs) + config.batch_size - 1) // config.batch_size
    total = batches_per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _linear(step, config.warmup_steps, total)
    )
    prepare = getattr(model, "preprocess", None) or model.tokenize
    model.train()
    step, loss_value = 0, float("nan")
    while step < total:
        permutation = torch.randperm(len(pairs), generator=order).tolist()
        for start in range(0, len(permutation), config.batch_size):
            if step >= total:
                break
            batch = [pairs[i] for i in permutation[start : start + config.batch_size]]
            first = model(_to(prepare([p.sentence_0 for p in batch]), model.device))
            second = model(_to(prepare([p.sentence_1 for p in batch]), model.device))
            cosine = torch.nn.functional.cosine_similarity(
                first["sentence_embedding"], second["sentence_embedding"]
            )
            labels = torch.tensor([p.label for p in batch], dtype=cosine.dtype)
            loss = torch.nn.functional.mse_loss(cosine, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            loss_value = float(loss.detach())
            if progress is not None:
                progress(step, total, loss_value)
    model.eval()
    scores_after = score_sts(encoder, eval_pairs) if eval_pairs else {}
    result = TrainingResult(str(out), step, len(pairs), loss_value, scores_before, scores_after)
    _save(model, out, base, config, result)
    return result


def _linear(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def _to(features: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def _save(model: Any, out: Path, base: str, config: TrainingConfig, result: TrainingResult) -> None:
    """Write into a temporary sibling folder, then rename it into place."""
    import sentence_transformers
    import torch
    import transformers

    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        model.save(str(staging))
        record = {
            "base_model": base,
            "train_pairs": result.train_pairs,
            "steps": result.steps,
            "loss": "CosineSimilarityLoss (MSE of cosine against label)",
            "optimizer": "AdamW",
            "schedule": "linear, "
            + (f"{config.warmup_steps} warmup steps" if config.warmup_steps else "no warmup"),
            "hyperparameters": asdict(config),
            "final_loss": result.final_loss,
            "eval_before": result.scores_before,
            "eval_after": result.scores_after,
            "versions": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "sentence_transformers": sentence_transformers.__version__,
            },
            "trained": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (staging / TRAINING_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(_model_card(record), encoding="utf-8")
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _model_card(record: dict[str, Any]) -> str:
    hp = record["hyperparameters"]
    lines = [
        "---",
        "language: si",
        "library_name: sentence-transformers",
        "tags: [sentence-transformers, sentence-similarity, sinhala, sisearch]",
        f"base_model: {record['base_model']}",
        "---",
        "",
        f"# Sinhala sentence encoder fine-tuned from {record['base_model']}",
        "",
        f"Trained by `sisearch train` on {record['train_pairs']} Sinhala sentence pairs"
        f" ({record['steps']} steps) with {record['loss']}, {record['optimizer']},"
        f" a {record['schedule']} schedule.",
        "",
        "| hyperparameter | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in hp.items()),
        "",
    ]
    if record["eval_after"]:
        lines += [
            "| evaluation | before | after |",
            "|---|---|---|",
            *(
                f"| {k} | {record['eval_before'].get(k, float('nan')):.4f} | {v:.4f} |"
                for k, v in record["eval_after"].items()
                if k != "pairs"
            ),
            "",
        ]
    versions = ", ".join(f"{k} {v}" for k, v in record["versions"].items())
    lines += [f"Library versions: {versions}.", ""]
    return "\n".join(lines)
