"""Word n-gram overlap between evaluation items and training rows: the leak check.

An item leaks when its question or answer shares a run of NGRAM words (lower-cased, as
`trainer.text.shingles.words` splits them) with what training shows the model as a task:
a row's question (with a skill's context, which is its input) and its answer. A knowledge
row's passage is left out: the leaf's documents are the material being taught, and the
loss never falls on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Any

from trainer.text.shingles import words

NGRAM = 8
_QUESTION = "\n\nQuestion:\n"


def ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """The word n-grams of `text` (the whole text when it has fewer than n words)."""
    w = words(text)
    if len(w) < n:
        return {tuple(w)} if w else set()
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def row_texts(row: Mapping[str, Any]) -> list[str]:
    """What a training row teaches as a task: its user turns (a knowledge row without its
    passage) and its assistant turns."""
    knowledge = (row.get("metadata") or {}).get("kind") == "knowledge"
    out = []
    for message in row.get("messages", []):
        text = str(message.get("content", ""))
        if message.get("role") == "user" and knowledge and _QUESTION in text:
            text = text.split(_QUESTION, 1)[1]
        out.append(text)
    return out


def training_ngrams(rows: Iterable[Mapping[str, Any]], n: int = NGRAM) -> set[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for row in rows:
        for text in row_texts(row):
            grams |= ngrams(text, n)
    return grams


def shares_ngram(texts: Iterable[str], grams: Set[tuple[str, ...]], n: int = NGRAM) -> bool:
    """Whether any of `texts` has a word n-gram in `grams`. Texts shorter than n words are
    compared whole: a short answer is a leak only where a row says exactly it."""
    return any(g in grams for text in texts for g in ngrams(text, n))


def copied_share(text: str, source: str, n: int = NGRAM) -> float:
    """The share of `text`'s word n-grams that `source` has (0 for a text under n words,
    which cannot be told from a paraphrase by this measure)."""
    if len(words(text)) < n:
        return 0.0
    grams = ngrams(text, n)
    return len(grams & ngrams(source, n)) / len(grams)
