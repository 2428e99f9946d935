"""Build a stand-in encoder of the real architecture, offline, in seconds.

The fine-tuned encoder's hub id is not public and machines without a network cannot
download any model, so tests, benchmarks and the offline demo use this instead: an
XLM-RoBERTa SentenceTransformer (mean pooling, max_seq_length 128) with randomly
initialised weights and a sentencepiece-style Unigram tokenizer trained on Sinhala
text. Like XLM-R's own tokenizer, it maps ZWJ/ZWNJ to a space.

`tiny` (2 layers, 64 hidden) is for tests; `base` has the full XLM-R base
configuration (12 layers, 768 hidden, 250k vocabulary), so it costs what the real
encoder costs. Its rankings are meaningless: it is for plumbing and timing only.

    python -m sisearch.encoders.devmodel models/dev --size tiny
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

SIZES = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128),
    "base": dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
    ),
}
XLMR_VOCAB_SIZE = 250002
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "sinhala_passages.txt"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> object:
    """A Unigram tokenizer with XLM-R's special tokens, normalizing like XLM-R's."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )

    from .unigram_tokenizer import as_transformers_tokenizer

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex("[\u200b\u200c\u200d]"), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, unk_token="<unk>"
    )
    tokenizer.train_from_iterator(texts, trainer)
    return as_transformers_tokenizer(tokenizer, 0, 2, model_max_length=512)


def build_encoder(
    out: str | Path,
    texts: Iterable[str] | None = None,
    size: str = "tiny",
    seed: int = 0,
    max_seq_length: int = 128,
) -> Path:
    """Write a randomly initialised XLM-R SentenceTransformer to `out`; returns the folder."""
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import XLMRobertaConfig, XLMRobertaModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    if texts is None:
        texts = DEFAULT_CORPUS.read_text(encoding="utf-8").splitlines()
    tokenizer = train_tokenizer(texts)
    vocab_size = XLMR_VOCAB_SIZE if size == "base" else len(tokenizer)
    config = XLMRobertaConfig(
        vocab_size=vocab_size,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        **SIZES[size],
    )
    torch.manual_seed(seed)
    out = Path(out)
    with tempfile.TemporaryDirectory() as scratch:
        XLMRobertaModel(config).save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        transformer = Transformer(scratch, max_seq_length=max_seq_length)
        pooling = Pooling(transformer.get_embedding_dimension(), "mean")
        model = SentenceTransformer(modules=[transformer, pooling], similarity_fn_name="cosine")
        model.save(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder to write the model to")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="UTF-8 text to train the tokenizer on"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    texts = args.corpus.read_text(encoding="utf-8").splitlines()
    print(build_encoder(args.out, texts, args.size, args.seed))


if __name__ == "__main__":
    main()
