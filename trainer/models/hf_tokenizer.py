"""Adapt a Hugging Face tokenizer (also the one inside vLLM) to the `Tokenizer` protocol."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from trainer.models.base import Conversation, ModelError


class HFTokenizer:
    def __init__(self, tokenizer: Any, name: str) -> None:
        self.hf = tokenizer  # the wrapped transformers tokenizer, for training code
        self._name = name
        # A fast tokenizer is one Rust object whose calls may mutate it ("Already borrowed"
        # errors from concurrent threads, e.g. `bot serve` handlers beside its batch worker).
        self._lock = threading.RLock()
        if getattr(tokenizer, "chat_template", None) is None:
            raise ModelError(
                f"{name}: the tokenizer has no chat template; chat models need "
                "one (tokenizer_config.json or chat_template.jinja)"
            )

    def encode(self, text: str) -> list[int]:
        with self._lock:
            return list(self.hf.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        with self._lock:
            text = self.hf.decode(
                list(ids),
                skip_special_tokens=skip_special_tokens,
                clean_up_tokenization_spaces=False,
            )
        return str(text)

    def render_chat(self, messages: Conversation, *, add_generation_prompt: bool = True) -> str:
        """The chat template's text; see `Tokenizer.encode_chat` for the two modes."""
        continue_last = (
            add_generation_prompt and bool(messages) and messages[-1].get("role") == "assistant"
        )
        with self._lock:
            text = self.hf.apply_chat_template(
                [dict(m) for m in messages],
                tokenize=False,
                add_generation_prompt=add_generation_prompt and not continue_last,
                continue_final_message=continue_last,
            )
        return str(text)

    def encode_chat(
        self, messages: Conversation, *, add_generation_prompt: bool = True
    ) -> list[int]:
        # The template already writes BOS and friends: never add special tokens again.
        return self.encode(self.render_chat(messages, add_generation_prompt=add_generation_prompt))

    @property
    def pad_id(self) -> int:
        for tid in (self.hf.pad_token_id, self.hf.eos_token_id):
            if isinstance(tid, int):
                return tid
        return 0

    @property
    def eos_ids(self) -> set[int]:
        eos = self.hf.eos_token_id
        return {eos} if isinstance(eos, int) else set()
