"""A leaf's held-out evaluation items: never shown to generation or training, the same for
every model as long as the leaf is unchanged (content-addressed, version HELDOUT_VERSION).

- seed: the leaf's held-out seed examples (trainer/sdg/holdout.py keeps them out of every
  generation prompt and every training row). Knowledge is asked closed-book.
- fact (knowledge): a statement from the leaf's documents with one salient term blanked
  (trainer/sdg/facts.py's terms: a year, a number, a date, a name), asked closed-book as
  "Fill in the blank about <document title>"; the reference is the term, the options are the
  term and three other terms of its type from the documents. The documents are what training
  teaches; the item's wording is not a training task (the overlap filter below).
- placebo twin (knowledge, seed and fact items): the same prompt answered with the key term
  swapped for another term of its type from the leaf's documents, which the documents never
  say. Training that teaches the facts makes the true answer likelier than its twin;
  training that teaches only the answer's form moves both alike, so the paired
  difference of the two changes (difference in differences) measures knowledge.
- teacher (skills): items the teacher wrote from the held-out seeds (`bot generate`), given
  here as rows.
- validation facts (knowledge): the facts ranked next after the reported ones, never
  reported. The trainer's checkpoint chooser and any tuning of the training settings use
  them, so neither ever looks at an item a benchmark reports. The ranking that splits the
  two is fixed by the leaf alone (its documents and seed rows); an item that shares an
  8-gram with some other training row is then dropped from its own part, never replaced by
  one from the other.

No item shares a word 8-gram with a training task of its own leaf's seed rows
(trainer/text/overlap.py); the generation export drops generated rows that would share one
with any item. Items are ordered by a hash of their content and capped per leaf.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from trainer.evaluation.items import N_OPTIONS, Item, qa_item, rank_key, shuffle_options
from trainer.leaves import LeafData
from trainer.sdg.facts import Term, document_sentences, terms, title
from trainer.sdg.pipeline import user_message
from trainer.text.overlap import ngrams, shares_ngram

HELDOUT_VERSION = "heldout-v1"
DEFAULT_FACTS = 24  # fact items per knowledge leaf, at most
DEFAULT_VALIDATION_FACTS = 12  # the next ones: the chooser's and tuning's, never reported
BLANK = "_____"


@dataclass
class HeldOut:
    items: list[Item] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # why -> how many candidates
    validation: list[Item] = field(default_factory=list)  # facts no report ever shows

    def drop(self, why: str, n: int = 1) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + n


def seed_rows_ngrams(leaf: LeafData) -> set[tuple[str, ...]]:
    """The training tasks of the leaf's seed rows: kept seeds' questions (a skill's context
    too) and answers; knowledge passages are the taught material and stay out."""
    grams: set[tuple[str, ...]] = set()
    for s in leaf.seeds:
        question = s.question if leaf.kind == "knowledge" else user_message(s.question, s.context)
        grams |= ngrams(question) | ngrams(s.answer)
    return grams


def _pool(leaf: LeafData) -> list[Term]:
    return list(
        {t: None for d in leaf.documents for s in document_sentences(d.text) for t in terms(s)}
    )


def _swap(key: str, text: str, pool: Sequence[Term]) -> tuple[Term, list[str]] | None:
    """A salient term of `text` (hash-chosen) and up to 3 same-type terms from the pool that
    `text` never mentions, nearest shape first; None when the text has no such term."""
    found = sorted(
        {t for t in terms(text) if text.count(t.text) == 1 and not _opens_sentence(t, text)},
        key=lambda t: rank_key(key, t.text),
    )
    for term in found:
        others = [
            t for t in pool
            if t.type == term.type and t.text.lower() != term.text.lower()
            and not re.search(rf"(?<!\w){re.escape(t.text)}(?!\w)", text)
        ]  # fmt: skip
        ranked = sorted(others, key=lambda t: (t.shape != term.shape, rank_key(key, t.text)))
        chosen = list(dict.fromkeys(t.text for t in ranked))[: N_OPTIONS - 1]
        if chosen:
            return term, chosen
    return None


def _opens_sentence(term: Term, text: str) -> bool:
    """A capitalised word that opens a sentence is no name ("The", "No")."""
    return bool(re.search(rf"(?:^|[.!?]\s+){re.escape(term.text)}(?!\w)", text))


def placebo_for(key: str, answer: str, pool: Sequence[Term]) -> str | None:
    """The answer with its key term swapped for one the documents never pair with it."""
    found = _swap(key, answer, pool)
    if found is None:
        return None
    term, others = found
    return answer.replace(term.text, others[0], 1)


def seed_items(
    leaf: LeafData,
    suite: str,
    tiers: Callable[[], Iterable[Iterable[str]]],
    grams: set[tuple[str, ...]],
    out: HeldOut,
) -> None:
    pool = _pool(leaf) if leaf.kind == "knowledge" else []
    for ex in leaf.heldout:
        if shares_ngram([ex.question, ex.answer], grams):
            out.drop("seed: shares an 8-gram with a training row")
            continue
        key = rank_key(leaf.path, ex.question)
        placebo = placebo_for(key, ex.answer, pool) if pool else None
        source = f"seed:{rank_key(leaf.path, ex.context or ex.question)[:12]}"
        out.items.append(qa_item(suite, leaf, ex, tiers, source=source, placebo=placebo))


def fact_items(
    leaf: LeafData,
    suite: str,
    grams: set[tuple[str, ...]],
    limits: tuple[int, int],
    out: HeldOut,
    training: AbstractSet[tuple[str, ...]] = frozenset(),
) -> None:
    """The leaf's fact items ranked by content hash: the first limits[0] reported, the next
    limits[1] validation. `grams` (the leaf's own seed rows) rank; `training` only drops."""
    found = sorted(_facts(leaf, suite, grams, out), key=lambda f: f[0])
    limit, validation = limits
    parts = ((out.items, found[:limit]), (out.validation, found[limit : limit + validation]))
    for kept, part in parts:
        for _, item in part:
            if training and shares_ngram([item.question], training):
                out.drop("fact: shares an 8-gram with a training row")
            else:
                kept.append(item)
    if len(found) > limit + validation:
        out.drop("fact: beyond the per-leaf cap", len(found) - limit - validation)


def _facts(
    leaf: LeafData, suite: str, grams: set[tuple[str, ...]], out: HeldOut
) -> list[tuple[str, Item]]:
    pool = _pool(leaf)
    found: list[tuple[str, Item]] = []
    for doc in leaf.documents:
        about = title(doc.name, doc.text)
        for index, sentence in enumerate(dict.fromkeys(document_sentences(doc.text))):
            key = rank_key(leaf.path, doc.name, sentence)
            swap = _swap(key, sentence, pool)
            if swap is None or len(swap[1]) < N_OPTIONS - 1:
                out.drop("fact: no term with three others of its type")
                continue
            term, others = swap
            blanked = sentence.replace(term.text, BLANK, 1)
            question = f'Fill in the blank about "{about}": {blanked}'
            if shares_ngram([blanked], grams):
                out.drop("fact: shares an 8-gram with a training row")
                continue
            options, correct = shuffle_options(key, term.text, others)
            found.append((key, Item(
                suite, leaf.path, "qa", question, question, term.text, question, options,
                correct, short=True, origin="fact", source=f"doc:{doc.name}#{index}",
                placebo=others[0],
            )))  # fmt: skip
    return found


def item_texts(item: Item) -> list[str]:
    """What of an item must not be a training task: its question and answer; a fact item's
    answer is the fact itself, which training is meant to teach."""
    return [item.question] if item.origin == "fact" else [item.question, item.answer]


def items_ngrams(items: Iterable[Item]) -> set[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for item in items:
        for text in item_texts(item):
            grams |= ngrams(text)
    return grams


def held_out(
    leaf: LeafData,
    suite: str,
    tiers: Callable[[], Iterable[Iterable[str]]],
    *,
    facts: int = DEFAULT_FACTS,
    validation: int = DEFAULT_VALIDATION_FACTS,
    training: AbstractSet[tuple[str, ...]] = frozenset(),
) -> HeldOut:
    """Every held-out item of one leaf (teacher-written ones come from the bot) and its
    validation facts. `training`: the word 8-grams of every training row (other leaves'
    seeds may share a sentence with this leaf's items; such an item is dropped, and
    counted)."""
    out = HeldOut()
    grams = seed_rows_ngrams(leaf)
    seed_items(leaf, suite, tiers, grams | set(training), out)
    if leaf.kind == "knowledge" and facts + validation > 0:
        fact_items(leaf, suite, grams, (facts, validation), out, training)
    return out
