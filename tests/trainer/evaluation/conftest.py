"""A small taxonomy for benchmark tests, a tiny random Llama, and that Llama fine-tuned on
one leaf (plain torch, a few seconds), as base and candidate models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import dump, knowledge_doc, skill_doc
from tests.tiny import build_tiny_model

PAIRS = [
    ("hot", "cold"),
    ("up", "down"),
    ("early", "late"),
    ("heavy", "light"),
    ("narrow", "wide"),
    ("ancient", "modern"),
    ("generous", "stingy"),
    ("brave", "timid"),
    ("loud", "quiet"),
    ("empty", "full"),
    ("rough", "smooth"),
    ("strong", "weak"),
    ("bright", "dark"),
    ("happy", "sad"),
    ("open", "closed"),
    ("fast", "slow"),
    ("hard", "soft"),
    ("high", "low"),
    ("inside", "outside"),
    ("long", "short"),
    ("near", "far"),
    ("old", "young"),
    ("rich", "poor"),
    ("sharp", "blunt"),
    ("thick", "thin"),
    ("tight", "loose"),
    ("wet", "dry"),
    ("wild", "tame"),
    ("first", "last"),
    ("clean", "dirty"),
]
TOWN = """# The town of Amberly

## History

Amberly was founded in 1432 by the weaver Hugo Brand and nine other families.
The Old Quay was built in 1510, and the North Gate followed in 1688 after a long siege.
In 1721 a great fire destroyed most of the houses near the River Ashe.
The lighthouse on Gull Point was finished in 1805 and still guides the fishing boats.

## Today

About 4200 people live in Amberly, and the harbor holds 120 boats.
Every spring the Lantern Fair fills the streets for 3 days, and Mara Quill leads the parade.
The town council meets in the Stone Hall, which has 12 windows facing the sea.
Visitors often walk from the North Gate to Gull Point along the cliff path in 40 minutes.
"""


def antonyms_doc(pairs: list[tuple[str, str]] = PAIRS) -> dict:
    return {
        "version": 3,
        "created_by": "tester",
        "task_description": "Give the antonym of an English word.",
        "seed_examples": [
            {
                "question": f'What is the opposite of "{a}"?',
                "answer": f'The opposite of "{a}" is "{b}".',
            }
            for a, b in pairs
        ],
    }


def write_taxonomy(root: Path) -> dict[str, Path]:
    """Four leaves: a 30-example skill (6 held out), its 5-example sibling (1 held out), a
    3-example skill (invalid: skills need 5) and a knowledge leaf with a document."""
    leaves = {
        "compositional_skills/linguistics/antonyms": antonyms_doc(),
        "compositional_skills/linguistics/synonyms": skill_doc(seed=1),
        "compositional_skills/writing/tiny": skill_doc(seed=2, n=3),
        "knowledge/places/amberly": knowledge_doc(seed=3),
    }
    out = {}
    for rel, doc in leaves.items():
        folder = root / "taxonomy" / rel
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "qna.yaml").write_text(dump(doc))
        (folder / "attribution.txt").write_text("self-authored\n")
        out[rel.rsplit("/", 1)[1]] = folder / "qna.yaml"
    docs = root / "taxonomy/knowledge/places/amberly/documents"
    docs.mkdir(exist_ok=True)
    (docs / "town.md").write_text(TOWN)
    return out


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()  # marks the root; no history needed
    write_taxonomy(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bench-tiny"), max_positions=2048)


def finetune(src: Path, dst: Path, pairs: list[tuple[str, str]], steps: int = 25) -> Path:
    """A plain torch fine-tune of `src` on (question, answer) pairs through its chat
    template, loss on the answer and its end-of-turn token only; saved to `dst`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(src)
    model = AutoModelForCausalLM.from_pretrained(src)
    examples = []
    for q, a in pairs:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
        )
        p_ids = tokenizer.encode(prompt, add_special_tokens=False)
        a_ids = tokenizer.encode(a + "<|im_end|>", add_special_tokens=False)
        examples.append((p_ids + a_ids, len(p_ids)))
    width = max(len(ids) for ids, _ in examples)
    ids = torch.zeros(len(examples), width, dtype=torch.long)
    mask = torch.zeros(len(examples), width, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    for i, (seq, start) in enumerate(examples):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        labels[i, start : len(seq)] = torch.tensor(seq[start:])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(dst)
    tokenizer.save_pretrained(dst)
    return dst


@pytest.fixture(scope="session")
def tiny_tuned(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny base fine-tuned on the antonyms leaf's seed examples that are NOT held out."""
    from trainer.leaves import SeedExample
    from trainer.sdg.holdout import split

    leaf = "compositional_skills/linguistics/antonyms"
    seeds = [
        SeedExample(f'What is the opposite of "{a}"?', f'The opposite of "{a}" is "{b}".')
        for a, b in PAIRS
    ]
    kept, heldout = split(leaf, seeds)
    assert len(heldout) == 6
    return finetune(
        tiny_base, tmp_path_factory.mktemp("bench-tuned"), [(s.question, s.answer) for s in kept]
    )
