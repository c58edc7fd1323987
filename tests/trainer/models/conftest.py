"""A tiny random Llama with a real byte-level BPE tokenizer and chat template, built here.

Weights are drawn with a large init scale so next-token distributions are peaked: greedy
choices then never hinge on float noise, which the batched-vs-single tests rely on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trainer.models import ChatModel, load_model
from trainer.models.server import ModelServer, make_server

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? The capital of France is Paris.",
    "Rivers flow into the sea; mountains rise above the clouds.",
    "Name three colours: red, green and blue. Numbers: 1 2 3 4 5 6 7 8 9 10.",
    "A taxonomy organises knowledge and skills into a tree of leaves.",
] * 20


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
            special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token="<|im_start|>",
    )


def tiny_llama_config(vocab: int, *, hidden: int, max_positions: int, **extra: Any) -> Any:
    """A 2-layer Llama config with ChatML's special-token ids (pad 0, bos 1, eos 2)."""
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
    out: Path, *, seed: int = 0, chat_template: str | None = CHATML, max_positions: int = 256
) -> Path:
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = bpe_tokenizer(CORPUS, vocab_size=384)
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(seed)
    config = tiny_llama_config(
        len(tokenizer), hidden=32, max_positions=max_positions, initializer_range=0.5
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = 2
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fingerprint memos go to a temporary cache, never the user's."""
    monkeypatch.setenv("BOT_CACHE", str(tmp_path_factory.getbasetemp() / "bot-cache"))


@pytest.fixture(scope="session")
def tiny(tiny_dir: Path) -> Iterator[ChatModel]:
    model = load_model(f"hf:{tiny_dir}", device="cpu")
    yield model
    model.close()


@pytest.fixture(scope="session")
def tiny_server(tiny: ChatModel) -> Iterator[ModelServer]:
    """`bot serve`'s server for the tiny model on a free loopback port, in a thread."""
    server = make_server(tiny, "127.0.0.1", 0, model_id="tiny")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.close()
    thread.join(timeout=10)


CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name three colours, then count from one to ten."},
    ],
    [{"role": "user", "content": "Hi"}],
    [
        {"role": "user", "content": "Rivers flow into the sea."},
        {"role": "assistant", "content": "And mountains rise."},
        {"role": "user", "content": "Tell me about a taxonomy of knowledge and skills."},
    ],
    [
        {"role": "user", "content": "The quick brown fox"},
        {"role": "assistant", "content": "jumps over"},
    ],  # continued, not answered
]
