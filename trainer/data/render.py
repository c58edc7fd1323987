"""Render a conversation through the model's chat template into token ids and a loss mask.

Loss falls only on what the assistant says: its reply and the end-of-turn token that closes
it. System and user turns, the template's headers and anything after the end-of-turn token
are context (label -100).

Each segment of the rendered text is tokenized on its own, at the boundaries where inference
would split it: the prompt up to the assistant header is encoded as one piece (as
`encode_chat` does when the model is asked to answer), and the reply follows it token by
token. Training then sees exactly the ids the model will see when it generates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

IGNORE = -100  # the label PyTorch's cross-entropy skips


class RenderError(ValueError):
    """A conversation that cannot be rendered for training; the message says why."""


class Rendered(NamedTuple):
    input_ids: list[int]
    labels: list[int]  # the token id where the loss applies, IGNORE elsewhere

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def _template(tokenizer: Any, messages: Sequence[Mapping[str, str]], prompt: bool) -> str:
    return str(
        tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=prompt
        )
    )


def _encode(tokenizer: Any, text: str) -> list[int]:
    # The template writes its own special tokens; never let the tokenizer add more.
    return list(tokenizer.encode(text, add_special_tokens=False)) if text else []


def render(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> Rendered:
    """Ids and labels of one conversation; `tokenizer` is a transformers tokenizer."""
    if not messages or messages[-1].get("role") != "assistant":
        raise RenderError("a training conversation must end with an assistant message")
    for m in messages:
        if m.get("role") not in ("system", "user", "assistant") or not isinstance(
            m.get("content"), str
        ):
            raise RenderError(f"bad message {dict(m)!r}: needs a role and string content")
    full = _template(tokenizer, messages, prompt=False)
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    labels: list[int] = []
    done = 0  # characters of `full` already encoded
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _template(tokenizer, messages[:i], prompt=True)
        turn = _template(tokenizer, messages[: i + 1], prompt=False)
        start, end = len(prompt), len(turn)
        if not (done <= start <= end and full.startswith(prompt) and full.startswith(turn)):
            raise RenderError(
                "the chat template is not prefix-stable (an earlier turn renders "
                "differently once later turns follow); cannot place the loss mask"
            )
        context = _encode(tokenizer, full[done:start])
        reply = _encode(tokenizer, full[start:end])
        # Train through the end-of-turn token; whitespace the template adds after it is
        # context, since generation stops at that token.
        cut = len(reply)
        if isinstance(eos, int) and eos in reply:
            cut = len(reply) - reply[::-1].index(eos)
        ids += context + reply
        labels += [IGNORE] * len(context) + reply[:cut] + [IGNORE] * (len(reply) - cut)
        done = end
    tail = _encode(tokenizer, full[done:])
    ids += tail
    labels += [IGNORE] * len(tail)
    return Rendered(ids, labels)
