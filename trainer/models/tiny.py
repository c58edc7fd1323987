"""A tiny random Llama (2 layers, a real byte-level BPE tokenizer, a ChatML template): seconds
to build, train and score on a CPU, and it says nothing sensible. `bot simulate --fast` plays
the lifecycle with one; the tests build theirs here too.

A large `init_range` draws peaked next-token distributions, so greedy choices never hinge
on float noise (what batched-vs-single comparisons need).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")  # pad, bos, eos


def bpe_tokenizer(corpus: list[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on `corpus`, with ChatML's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    pad, bos, eos = SPECIALS
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=bpe, eos_token=eos, pad_token=pad, bos_token=bos
    )


def tiny_llama_config(vocab: int, *, hidden: int, max_positions: int, **extra: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        **extra,
    )


def build_tiny_model(
    out: Path,
    corpus: list[str],
    *,
    seed: int = 0,
    vocab_size: int = 384,
    hidden: int = 32,
    max_positions: int = 256,
    init_range: float | None = None,
    chat_template: str | None = CHATML,
) -> Path:
    """Write the model folder atomically (an existing one is reused) and return it."""
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = bpe_tokenizer(corpus, vocab_size)
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(seed)
    extra = {} if init_range is None else {"initializer_range": init_range}
    config = tiny_llama_config(len(tokenizer), hidden=hidden, max_positions=max_positions, **extra)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = 2
    tmp = out.with_name(f".tmp-{out.name}")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out)
    return out
