"""The loss mask on known conversations: exact ids and labels, and the real SmolLM2 template."""

from __future__ import annotations

from typing import Any

import pytest

from trainer.data.render import IGNORE, RenderError, render

WORDS = ["<pad>", "<|im_start|>", "<|im_end|>", "system", "user", "assistant", ":"]
WORDS += ["be", "brief", "hi", "hello", "friend", "bye", "ciao"]
TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m.role }} : {{ m.content }} <|im_end|> {% endfor %}"
    "{% if add_generation_prompt %}<|im_start|> assistant : {% endif %}"
)


def word_tokenizer() -> Any:
    """One id per whitespace-separated word, so expected ids can be written by hand."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>", bos_token="<|im_start|>"
    )
    hf.chat_template = TEMPLATE
    return hf


CONVERSATION = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "hello friend"},
    {"role": "user", "content": "bye"},
    {"role": "assistant", "content": "ciao"},
]


def test_exact_ids_and_mask_on_a_known_conversation() -> None:
    out = render(word_tokenizer(), CONVERSATION)
    x = IGNORE
    assert out.input_ids == [
        *[1, 3, 6, 7, 8, 2],  # <|im_start|> system : be brief <|im_end|>
        *[1, 4, 6, 9, 2],  # <|im_start|> user : hi <|im_end|>
        *[1, 5, 6, 10, 11, 2],  # <|im_start|> assistant : hello friend <|im_end|>
        *[1, 4, 6, 12, 2],  # <|im_start|> user : bye <|im_end|>
        *[1, 5, 6, 13, 2],  # <|im_start|> assistant : ciao <|im_end|>
    ]
    assert out.labels == [
        *[x] * 6,
        *[x] * 5,
        *[x, x, x, 10, 11, 2],  # the reply and its end-of-turn token, not the header
        *[x] * 5,
        *[x, x, x, 13, 2],
    ]
    assert out.trained_tokens == 5


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "user", "content": "hi"}],
        [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}],
        [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}],
    ],
)
def test_conversations_that_cannot_be_trained_on_are_refused(messages: Any) -> None:
    with pytest.raises(RenderError):
        render(word_tokenizer(), messages)


def test_a_template_that_rewrites_earlier_turns_is_refused() -> None:
    tok = word_tokenizer()
    # Renders the last message differently from the others: not prefix-stable.
    tok.chat_template = (
        "{% for m in messages %}{% if loop.last %}<|im_start|> {{ m.role }} : {{ m.content }}"
        " <|im_end|> {% else %}{{ m.content }} {% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|> assistant : {% endif %}"
    )
    with pytest.raises(RenderError, match="prefix-stable"):
        render(tok, CONVERSATION)


@pytest.mark.slow
def test_smollm2_template_trains_on_the_reply_and_its_end_of_turn_only() -> None:
    from transformers import AutoTokenizer

    from trainer.models.loader import local_model_dir

    tok = AutoTokenizer.from_pretrained(local_model_dir("embedded"))
    out = render(
        tok,
        [
            {"role": "user", "content": "What is 2 + 2?"},
            {"role": "assistant", "content": "2 + 2 = 4."},
        ],
    )
    trained = [t for t in out.labels if t != IGNORE]
    assert tok.decode(trained) == "2 + 2 = 4.<|im_end|>"
    # The ids are those inference sees: the prompt as encode_chat renders it, then the reply.
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is 2 + 2?"}], tokenize=False, add_generation_prompt=True
    )
    prompt_ids = tok.encode(prompt, add_special_tokens=False)
    assert out.input_ids[: len(prompt_ids)] == prompt_ids
    assert out.input_ids[len(prompt_ids) : len(prompt_ids) + len(trained)] == trained
