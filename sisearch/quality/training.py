"""Fine-tune a sentence encoder on Sinhala STS pairs.

Two recipes. `seed`, the seed encoder's own: CosineSimilarityLoss (the MSE between the
cosine of the two embeddings and the label), batch size 4, 1 epoch, learning rate 5e-5,
AdamW (weight decay 0.01), a linear schedule without warmup, gradient norm clipped at 1,
seed 42, max_seq_length 128, every weight trained. `sisearch` (the default), measured on
human-scored Sinhala STS pairs to help a real encoder where the seed recipe hurts it:
CoSENT (a loss on the order of the pairs' similarities, not their values), the word
embeddings frozen (they are most of the weights, and what AdamW spends its time on), and
the trained weights averaged half-way back to the base model's (WiSE-FT, Wortsman et al.
2022): Sinhala-only pairs otherwise pull the encoder away from the other languages it
aligns Sinhala with (English -> Sinhala nDCG@10 -0.027 unaveraged, -0.007 averaged, for
0.008 less STS gain; bench/finetune.py). See `RECIPES`. Both sentences get the model's
query prompt, as `sts_cosines` scores them.
A plain PyTorch loop keeps a run deterministic for a seed on CPU.

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

from ..encoders.encoder import load_encoder
from ..errors import OutputExists
from .sts import StsPair, score_sts

TRAINING_FILE = "sisearch_training.json"


LOSSES = {
    "cosine-mse": "CosineSimilarityLoss (MSE of cosine against label)",
    "cosent": "CoSENT (log-sum-exp over pairs ranked in the wrong order, scale 20)",
}
COSENT_SCALE = 20.0


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters; the defaults are the seed encoder's recipe (`RECIPES["seed"]`)."""

    epochs: int = 1
    batch_size: int = 4
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    max_seq_length: int = 128
    seed: int = 42
    max_steps: int | None = None
    loss: str = "cosine-mse"
    freeze_embeddings: bool = False
    keep_base: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss {self.loss!r} is not one of {', '.join(LOSSES)}")
        if not 0.0 <= self.keep_base < 1.0:
            raise ValueError(f"keep_base must be in [0, 1), not {self.keep_base}")


RECIPES: dict[str, TrainingConfig] = {
    "sisearch": TrainingConfig(
        epochs=4,
        batch_size=16,
        learning_rate=5e-5,
        loss="cosent",
        freeze_embeddings=True,
        keep_base=0.5,
    ),
    "seed": TrainingConfig(),
}
DEFAULT_RECIPE = "sisearch"


@dataclass
class TrainingResult:
    """What a run did and how the model scored before and after (Spearman, Pearson)."""

    out: str
    steps: int
    train_pairs: int
    final_loss: float
    scores_before: dict[str, float] = field(default_factory=dict)
    scores_after: dict[str, float] = field(default_factory=dict)
    recipe: str = ""


def train(
    base: str,
    pairs: list[StsPair],
    out: str | Path,
    config: TrainingConfig = RECIPES[DEFAULT_RECIPE],
    eval_pairs: list[StsPair] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    recipe: str = "",
) -> TrainingResult:
    """Fine-tune `base` (hub id, folder or installed short name) on `pairs`, save to `out`.

    `recipe` names where `config` came from, for the model card. `progress(step,
    total_steps, loss)` is called after every step. Raises OutputExists if `out` exists,
    ModelLoadError if the base cannot be loaded.
    """
    out = Path(out)
    if out.exists():
        raise OutputExists(f"{out} already exists; choose another --out or remove it first")
    encoder = load_encoder(base)
    scores_before = score_sts(encoder, eval_pairs) if eval_pairs else {}
    steps, loss_value = fit(encoder, pairs, config, progress)
    scores_after = score_sts(encoder, eval_pairs) if eval_pairs else {}
    result = TrainingResult(
        str(out), steps, len(pairs), loss_value, scores_before, scores_after, recipe
    )
    _save(encoder.model, out, base, config, result)
    return result


def fit(
    encoder: Any,
    pairs: list[StsPair],
    config: TrainingConfig,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[int, float]:
    """Train the encoder's model in place; returns the steps taken and the last loss."""
    import random

    import numpy as np
    import torch

    model = encoder.model
    model.max_seq_length = config.max_seq_length
    prompt = encoder.query_prompt
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    order = torch.Generator().manual_seed(config.seed)
    batches_per_epoch = (len(pairs) + config.batch_size - 1) // config.batch_size
    total = batches_per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    if config.freeze_embeddings:
        _word_embeddings(model).requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    base = [p.detach().clone() for p in trained] if config.keep_base else []
    optimizer = torch.optim.AdamW(
        trained, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _linear(step, config.warmup_steps, total)
    )
    loss_of = _cosent if config.loss == "cosent" else torch.nn.functional.mse_loss
    prepare = getattr(model, "preprocess", None) or model.tokenize
    model.train()
    step, loss_value = 0, float("nan")
    try:
        while step < total:
            permutation = torch.randperm(len(pairs), generator=order).tolist()
            for start in range(0, len(permutation), config.batch_size):
                if step >= total:
                    break
                batch = [pairs[i] for i in permutation[start : start + config.batch_size]]
                first = model(_to(prepare([prompt + p.sentence_0 for p in batch]), model.device))
                second = model(_to(prepare([prompt + p.sentence_1 for p in batch]), model.device))
                cosine = torch.nn.functional.cosine_similarity(
                    first["sentence_embedding"], second["sentence_embedding"]
                )
                labels = torch.tensor([p.label for p in batch], dtype=cosine.dtype)
                loss = loss_of(cosine, labels)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trained, config.max_grad_norm)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                step += 1
                loss_value = float(loss.detach())
                if progress is not None:
                    progress(step, total, loss_value)
    finally:
        model.eval()
        _word_embeddings(model).requires_grad_(True)
    with torch.no_grad():  # WiSE-FT: part of the way back to the base model's weights
        for weight, start in zip(trained, base):
            weight.mul_(1 - config.keep_base).add_(start, alpha=config.keep_base)
    return step, loss_value


def _cosent(cosine: Any, labels: Any) -> Any:
    """CoSENT: penalise every pair of pairs whose cosines are in the wrong order."""
    import torch

    scores = cosine * COSENT_SCALE
    differences = scores[:, None] - scores[None, :]
    wrong_order = labels[:, None] < labels[None, :]
    differences = differences - (~wrong_order).to(differences.dtype) * 1e12
    return torch.logsumexp(torch.cat([differences.new_zeros(1), differences.flatten()]), dim=0)


def _word_embeddings(model: Any) -> Any:
    return model[0].auto_model.get_input_embeddings()


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
            "recipe": result.recipe or "custom",
            "loss": LOSSES[config.loss],
            "frozen": "word embeddings" if config.freeze_embeddings else "nothing",
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
        f"Trained by `sisearch train` (recipe `{record['recipe']}`) on"
        f" {record['train_pairs']} Sinhala sentence pairs ({record['steps']} steps) with"
        f" {record['loss']}, {record['optimizer']}, a {record['schedule']} schedule;"
        f" frozen: {record['frozen']}; share of the base model's weights kept after"
        f" training: {hp['keep_base']}.",
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
