"""XLM-R-style Unigram tokenizers as transformers tokenizers, with their normalizer kept.

Both the offline e5-small build and the dev stand-in build a `tokenizers.Tokenizer` whose
normalizer maps ZWJ and ZWNJ to a space, as XLM-R's SentencePiece model does. Wrapped as
`XLMRobertaTokenizerFast`, transformers 5 rebuilds the pipeline and drops that normalizer
(a ZWJ becomes a token of its own); a plain fast tokenizer keeps it.
"""

from __future__ import annotations

from typing import Any

SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


def as_transformers_tokenizer(core: Any, bos_id: int, eos_id: int, model_max_length: int) -> Any:
    """`core` with XLM-R's `<s> ... </s>` template and special tokens, as a fast tokenizer."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    core.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos_id), ("</s>", eos_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, model_max_length=model_max_length, **SPECIAL_TOKENS
    )
