"""Held-out items: facts with placebo twins from the documents, nothing a training task
shares 8 words with, the same items for the same leaf; the overlap check itself."""

from __future__ import annotations

from tests.trainer.evaluation.conftest import TOWN
from trainer.evaluation.heldout import (
    BLANK,
    held_out,
    items_ngrams,
    placebo_for,
    seed_rows_ngrams,
)
from trainer.leaves import Document, LeafData, SeedExample
from trainer.text.overlap import ngrams, row_texts, shares_ngram, training_ngrams

DOC = Document("documents/town.md", TOWN)


def leaf(heldout: list[SeedExample], seeds: list[SeedExample] | None = None) -> LeafData:
    kept = seeds or [
        SeedExample(f"Who leads event {i}?", f"Somebody leads it, number {i}.") for i in range(3)
    ]
    return LeafData(
        "knowledge/places/amberly", "knowledge", "knowledge", "Amberly", None, kept, heldout, [DOC]
    )


def test_ngrams_and_rows() -> None:
    assert ngrams("one two three") == {("one", "two", "three")}  # short: the whole text
    assert len(ngrams(" ".join(f"w{i}" for i in range(10)))) == 3
    row = {
        "messages": [
            {"role": "user", "content": "Context:\nA long passage.\n\nQuestion:\nWhat is it?"},
            {"role": "assistant", "content": "It is a town."},
        ],
        "metadata": {"kind": "knowledge"},
    }
    assert row_texts(row) == ["What is it?", "It is a town."]  # the passage is taught material
    skill = {**row, "metadata": {"kind": "grounded_skill"}}
    assert row_texts(skill)[0].startswith("Context:")  # a skill's context is its input
    grams = training_ngrams([row])
    assert shares_ngram(["It is a town."], grams) and not shares_ngram(["It is a city."], grams)


def test_facts_are_closed_book_with_a_placebo_in_no_document() -> None:
    found = held_out(leaf([]), "branch", lambda: iter(()), facts=100)
    facts = [i for i in found.items if i.origin == "fact"]
    assert len(facts) >= 6
    for item in facts:
        assert BLANK in item.question and "Context" not in item.prompt
        assert item.options[item.correct] == item.answer and len(set(item.options)) == 4
        sentence = item.question.split(": ", 1)[1]
        assert sentence.replace(BLANK, item.answer) in TOWN.replace("\n", " ")
        assert sentence.replace(BLANK, item.placebo or "") not in TOWN  # a fact in no document
    assert [i.id for i in facts] == [
        i.id for i in held_out(leaf([]), "branch", lambda: iter(()), facts=100).items
    ]
    capped = held_out(leaf([]), "branch", lambda: iter(()), facts=2, validation=0)
    assert sum(i.origin == "fact" for i in capped.items) == 2
    assert capped.dropped["fact: beyond the per-leaf cap"] == len(facts) - 2


def test_validation_facts_follow_the_reported_ones_and_never_join_them() -> None:
    every = held_out(leaf([]), "branch", lambda: iter(()), facts=100, validation=0).items
    ranked = [i.id for i in every if i.origin == "fact"]
    found = held_out(leaf([]), "branch", lambda: iter(()), facts=2, validation=3)
    assert [i.id for i in found.items if i.origin == "fact"] == ranked[:2]
    assert [i.id for i in found.validation] == ranked[2:5]
    assert found.dropped["fact: beyond the per-leaf cap"] == len(ranked) - 5
    # a training row that teaches a reported fact drops it; no validation fact moves up
    first = next(i for i in found.items if i.origin == "fact")
    taught = held_out(
        leaf([]), "branch", lambda: iter(()), facts=2, validation=3,
        training=ngrams(first.question.split(": ", 1)[1]),
    )  # fmt: skip
    assert [i.id for i in taught.items if i.origin == "fact"] == ranked[1:2]
    assert [i.id for i in taught.validation] == ranked[2:5]


def test_no_item_shares_eight_words_with_a_kept_seed() -> None:
    copied = "Amberly was founded in 1432 by the weaver Hugo Brand and nine other families."
    kept = [SeedExample("When was Amberly founded?", copied)]
    held = [
        SeedExample("Who founded Amberly?", copied),  # the same answer: a leak, dropped
        SeedExample("How many boats does the harbor hold?", "The harbor holds 120 boats."),
    ]
    found = held_out(leaf(held, kept), "branch", lambda: iter(()), facts=100)
    grams = seed_rows_ngrams(leaf(held, kept))
    assert not any(
        shares_ngram([i.question, i.answer], grams) for i in found.items if i.origin == "seed"
    )
    assert [i.question for i in found.items if i.origin == "seed"] == [held[1].question]
    assert found.dropped["seed: shares an 8-gram with a training row"] == 1
    assert found.dropped["fact: shares an 8-gram with a training row"] >= 1  # the 1432 line
    assert not any("1432" in i.question for i in found.items if i.origin == "fact")
    # the export's filter sees the questions of every item, the answers of all but facts
    grams = items_ngrams(found.items)
    assert shares_ngram([held[1].answer], grams)


def test_placebo_swaps_a_term_of_the_same_type_never_a_sentence_opener() -> None:
    pool = held_out(leaf([]), "branch", lambda: iter(()), facts=0)  # builds nothing
    assert pool.items == []
    from trainer.evaluation.heldout import _pool

    terms = _pool(leaf([]))
    twin = placebo_for("k", "The harbor holds 120 boats.", terms)
    assert twin is not None and twin != "The harbor holds 120 boats."
    assert twin.startswith("The harbor holds ") and "120" not in twin
    assert placebo_for("k", "No. Nothing here.", terms) is None  # openers are no names
