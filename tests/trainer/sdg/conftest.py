"""A tiny teacher for fast pipeline tests, and small leaves to feed it.

The teacher is a 2-layer Llama with its own byte-level BPE tokenizer, trained here for a
few seconds on this pipeline's real prompts paired with replies in the expected formats
(numbered lists, "Score: N", Q:/A: pairs, yes/no), mixed with refusals and junk. Its
output is varied and often wrong, so every filter sees real traffic, yet some candidates
pass, so the whole path to kept rows runs. Training is seeded: the weights, and so the
rows, are the same on every run on one machine.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from trainer.leaves import Document, LeafData, SeedExample
from trainer.models import (
    GREEDY,
    ChatModel,
    Conversation,
    Generation,
    GenerationParams,
    Score,
    load_model,
)
from trainer.sdg import prompts

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_VOCABULARY = """harbor lantern river meadow copper falcon winter garden signal frame moon tide
bridge market orbit valley storm candle quiet rapid bright gentle ancient modern generous
narrow heavy cold warm early late"""
WORDS = _VOCABULARY.split()


def phrase(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def freeform_leaf() -> LeafData:
    pairs = [
        ("ancient", "modern"),
        ("generous", "stingy"),
        ("expand", "contract"),
        ("early", "late"),
        ("heavy", "light"),
        ("narrow", "wide"),
    ]
    seeds = [
        SeedExample(f'What is the opposite of "{a}"?', f'The opposite of "{a}" is "{b}".')
        for a, b in pairs
    ]
    return LeafData(
        "compositional_skills/linguistics/antonyms_test",
        "freeform_skill",
        "compositional_skills",
        "Give the antonym of an English word.",
        None,
        seeds[:5],
        seeds[5:],
        content_hash="f" * 64,
    )


def grounded_leaf() -> LeafData:
    rng = random.Random(7)
    seeds = [
        SeedExample(
            "Summarize this text in one sentence.",
            f"The {phrase(rng, 3)} is {phrase(rng, 2)}.",
            f"The {phrase(rng, 12)}. A {phrase(rng, 10)}. The {phrase(rng, 8)}.",
        )
        for _ in range(5)
    ]
    return LeafData(
        "compositional_skills/grounded/summary_test",
        "grounded_skill",
        "compositional_skills",
        "Summarize a short text in one sentence.",
        None,
        seeds[:4],
        seeds[4:],
        content_hash="g" * 64,
    )


def knowledge_leaf() -> LeafData:
    rng = random.Random(11)
    paragraphs = [
        f"## Part {i}\n\nThe {phrase(rng, 14)}. A {phrase(rng, 12)}. "
        f"Its {phrase(rng, 10)} in {1500 + i * 37}."
        for i in range(8)
    ]
    doc = Document("documents/test.md", "\n\n".join(paragraphs))
    seeds = [
        SeedExample(
            f"When was the {phrase(rng, 2)} built?",
            f"It was built in {1500 + i}.",
            paragraphs[i % 8],
        )
        for i in range(6)
    ]
    return LeafData(
        "knowledge/test/harbor",
        "knowledge",
        "knowledge",
        "A made-up harbor town.",
        "testing",
        seeds[:5],
        seeds[5:],
        [doc],
        content_hash="k" * 64,
    )


def _reply(name: str, rng: random.Random) -> str:
    """A reply in `name`'s format (mostly), varied."""
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(["I'm sorry, but I cannot help with that.", "", phrase(rng, 30)])
    if name in ("skills_instructions", "grounded_instructions"):
        return "\n".join(
            f"{i}. {rng.choice(['What is the opposite of', 'Summarize the'])} "
            f"{phrase(rng, rng.randint(1, 4))}?"
            for i in range(1, rng.randint(2, 6))
        )
    # Judges decode greedily, so their most frequent training verdict must be a clear pass
    # for anything to be kept; the other verdicts still show up on some prompts.
    if name == "skills_judge_instruction":
        return f"Score: {int(roll < 0.85)}"
    if name == "skills_judge_pair":
        return f"Score: {1 + (roll > 0.2) + (roll > 0.3)}"
    if name == "knowledge_faithfulness":
        return "Yes." if roll < 0.8 else "No."
    if name == "knowledge_qa":
        return "\n".join(
            f"Q: What is the {phrase(rng, 3)}?\nA: The {phrase(rng, 4)}."
            for _ in range(rng.randint(1, 4))
        )
    if name == "grounded_context":
        return ". ".join(f"The {phrase(rng, 8)}" for _ in range(4)) + "."
    return f"The {phrase(rng, rng.randint(2, 8))}."


def _prompt(name: str, rng: random.Random) -> str:
    values = {f: phrase(rng, 6) for f in prompts.load(name).fields}
    values.update({k: f"\nText:\n{phrase(rng, 20)}\n" for k in values if k == "context_block"})
    return prompts.load(name).render(**values)


def build_teacher(out: Path, *, steps: int = 100, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaForCausalLM

    from trainer.models.tiny import bpe_tokenizer, tiny_llama_config

    rng = random.Random(seed)
    # The judges added with probability reading (question, relevance) need no trained
    # verdict, and the document-row prompts (augment.py) are tested on what an untrained
    # prompt makes the teacher write: left out, the teacher stays the one the other tests'
    # yields were seen with.
    untrained = {
        "knowledge_question",
        "knowledge_relevance",
        "knowledge_fact_questions",
        "knowledge_rephrase",
    }
    names = sorted(p.stem for p in prompts.PROMPT_DIR.glob("*.txt") if p.stem not in untrained)
    data = [(_prompt(n, rng), _reply(n, rng), n) for _ in range(40) for n in names]
    corpus = [t for p, r, _ in data for t in (p, r)]
    corpus += [
        str(s.question) + str(s.answer) + str(s.context or "")
        for leaf in (freeform_leaf(), grounded_leaf(), knowledge_leaf())
        for s in leaf.seeds
    ]
    tokenizer = bpe_tokenizer(corpus, vocab_size=1200)
    tokenizer.chat_template = CHATML
    torch.manual_seed(seed)
    config = tiny_llama_config(len(tokenizer), hidden=64, max_positions=4096)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = 2
    examples = []
    for p, r, _ in data:
        prefix = tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        ids_p = tokenizer.encode(prefix, add_special_tokens=False)[-96:]  # the stage-telling tail
        ids_r = tokenizer.encode(r + "<|im_end|>", add_special_tokens=False)
        examples.append((ids_p + ids_r, len(ids_p)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        batch = [examples[(step * 12 + i) % len(examples)] for i in range(12)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for i, (seq, start) in enumerate(batch):
            ids[i, : len(seq)] = torch.tensor(seq)
            labels[i, start : len(seq)] = torch.tensor(seq[start:])
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


class Recording:
    """A real model, with every conversation it was sent written down."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.sent: list[Conversation] = []
        self.scored: list[tuple[Conversation, str]] = []  # judges read by probability

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def generate(
        self,
        conversations: Sequence[Conversation],
        params: GenerationParams = GREEDY,
        *,
        seeds: Sequence[int] | None = None,
    ) -> list[Generation]:
        self.sent += conversations
        return self.model.generate(conversations, params, seeds=seeds)

    def loglikelihood(self, requests: Sequence[tuple[Conversation, str]]) -> list[Score]:
        self.scored += requests
        return self.model.loglikelihood(requests)


@pytest.fixture(scope="session")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatModel]:
    import torch

    # Matrices this small gain nothing from a second thread, and on a shared 2-core
    # machine two spinning threads per process make everything many times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        path = build_teacher(tmp_path_factory.mktemp("tiny-teacher"))
        model = load_model(f"hf:{path}", device="cpu")
        yield model
        model.close()
    finally:
        torch.set_num_threads(threads)
