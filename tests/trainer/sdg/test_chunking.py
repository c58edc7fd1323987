"""Token-sized chunks on paragraph boundaries, with overlap, using a real tokenizer."""

from __future__ import annotations

import itertools

import pytest

from trainer.leaves import Document
from trainer.models import ChatModel, Tokenizer
from trainer.sdg.chunking import chunk_documents, chunk_text, sentences, truncate_tokens

_TEXT = "The harbor town keeps its lanterns lit through the winter while boats wait"
WORDS = _TEXT.split()


def paragraph(i: int, n: int) -> str:
    """n words; sentences of eight words; a paragraph-unique marker first."""
    ws = [f"p{i}"] + [WORDS[(i + j) % len(WORDS)] for j in range(n - 1)]
    out = []
    for k in range(0, n, 8):
        out.append(" ".join(ws[k : k + 8]) + ".")
    return " ".join(out)


@pytest.fixture(scope="module")
def tok(teacher: ChatModel) -> Tokenizer:
    return teacher.tokenizer


def n(tok: Tokenizer, text: str) -> int:
    return len(tok.encode(text))


def test_chunks_respect_size_and_paragraphs(tok: Tokenizer) -> None:
    paras = [paragraph(i, 20 + 7 * (i % 4)) for i in range(12)]
    text = "\n\n".join(paras)
    chunks = chunk_text(tok, text, max_tokens=120)
    assert len(chunks) > 2
    for c in chunks:
        assert n(tok, c) <= 120
        for piece in c.split("\n\n"):  # whole paragraphs only (no overlap asked for)
            assert piece in paras
    assert "\n\n".join(chunks) == text  # nothing lost, nothing repeated


def test_overlap_repeats_trailing_sentences(tok: Tokenizer) -> None:
    paras = [paragraph(i, 40) for i in range(10)]
    chunks = chunk_text(tok, "\n\n".join(paras), max_tokens=150, overlap_tokens=30)
    assert len(chunks) > 2
    for prev, nxt in itertools.pairwise(chunks):
        head = nxt.split("\n\n")[0]
        assert prev.endswith(head)  # the next chunk opens with the previous one's tail
        assert 0 < n(tok, head) <= 30
        assert n(tok, nxt) <= 150


def test_long_paragraph_splits_between_sentences(tok: Tokenizer) -> None:
    para = paragraph(0, 400)
    chunks = chunk_text(tok, para, max_tokens=100)
    assert all(n(tok, c) <= 100 for c in chunks)
    assert all(c.endswith(".") for c in chunks)
    assert " ".join(chunks) == para
    # and a "sentence" with no punctuation at all is cut between tokens
    blob = " ".join(f"w{i}" for i in range(600))
    pieces = chunk_text(tok, blob, max_tokens=64)
    assert all(n(tok, c) <= 64 for c in pieces)
    assert " ".join(pieces).split() == blob.split()


def test_heading_moves_with_its_section(tok: Tokenizer) -> None:
    first, second = paragraph(0, 60), paragraph(1, 60)
    text = "\n\n".join([first, "## Festivals", second])
    chunks = chunk_text(tok, text, max_tokens=max(n(tok, first), n(tok, second)) + 20)
    assert chunks[0] == paragraph(0, 60)
    assert chunks[1].startswith("## Festivals\n\n")


def test_front_matter_and_empty_documents(tok: Tokenizer) -> None:
    assert chunk_text(tok, "---\ntitle: x\n---\nBody text here.", 50) == ["Body text here."]
    assert chunk_text(tok, "\n\n  \n", 50) == []
    with pytest.raises(ValueError):
        chunk_text(tok, "x", 100, overlap_tokens=60)


def test_chunk_documents_indexes_per_document(tok: Tokenizer) -> None:
    docs = [
        Document("a.md", "\n\n".join(paragraph(i, 30) for i in range(6))),
        Document("b.md", paragraph(9, 10)),
    ]
    chunks = chunk_documents(tok, docs, 80, 10)
    assert [c.document for c in chunks].count("b.md") == 1
    a = [c for c in chunks if c.document == "a.md"]
    assert [c.index for c in a] == list(range(len(a)))
    assert all(c.tokens == n(tok, c.text) <= 80 for c in chunks)


def test_truncate_tokens(tok: Tokenizer) -> None:
    text = paragraph(3, 200)
    cut = truncate_tokens(tok, text, 40)
    assert n(tok, cut) <= 42 and cut.endswith(" ...")
    assert text.startswith(cut.removesuffix(" ..."))
    assert truncate_tokens(tok, "short text", 40) == "short text"


def test_sentences() -> None:
    assert sentences('He said "stop." Then he left! Why? Because.') == [
        'He said "stop."',
        "Then he left!",
        "Why?",
        "Because.",
    ]
