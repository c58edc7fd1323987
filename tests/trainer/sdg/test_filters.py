"""Duplicate removal within a leaf and against its seeds, held-out ones included."""

from __future__ import annotations

from dataclasses import replace

from tests.trainer.sdg.conftest import freeform_leaf, grounded_leaf, knowledge_leaf
from trainer.leaves import SeedExample
from trainer.sdg.filters import LeafDeduper, NearIndex, near


def test_held_out_questions_are_never_reproduced() -> None:
    leaf = freeform_leaf()
    held = leaf.heldout[0].question
    assert all(s.question != held for s in leaf.seeds)  # the teacher never saw it
    d = LeafDeduper(leaf)
    assert d.admit(held) == "duplicate_of_seed"
    assert d.admit(held.upper() + "  ") == "duplicate_of_seed"  # case and spacing
    assert d.admit(leaf.seeds[0].question) == "duplicate_of_seed"


def test_near_duplicates_within_the_leaf() -> None:
    d = LeafDeduper(freeform_leaf())
    q = "Which word means the opposite of the word brave in everyday English speech?"
    assert d.admit(q) is None
    assert d.admit(q) == "duplicate"
    assert d.admit(q.replace("speech", "speech today")) == "duplicate"  # Jaccard 0.83
    assert d.admit("Which word means the opposite of the word timid?") is None


def test_different_words_are_not_duplicates() -> None:
    d = LeafDeduper(freeform_leaf())
    assert d.admit('What is the opposite of "modern"?') is None  # seed asks about "ancient"


def test_grounded_compares_question_and_context_together() -> None:
    leaf = grounded_leaf()
    d = LeafDeduper(leaf)
    seed = leaf.seeds[0]
    assert seed.context is not None
    assert d.admit(seed.question, seed.context) == "duplicate_of_seed"
    held = leaf.heldout[0]
    assert d.admit(held.question, held.context) == "duplicate_of_seed"
    new_context = "A brand new notice about road works on the high street next month."
    assert d.admit(seed.question, new_context) is None  # same ask, new text: a new sample
    assert d.admit(seed.question, new_context) == "duplicate"
    assert d.copies_seed_context(seed.context + " ")
    assert d.copies_seed_context(held.context or "")
    assert not d.copies_seed_context(new_context)


def test_knowledge_compares_questions_only() -> None:
    leaf = knowledge_leaf()
    d = LeafDeduper(leaf)
    assert d.admit(leaf.heldout[0].question) == "duplicate_of_seed"
    q = "What did the founders of the town bring with them?"
    assert d.admit(q) is None
    assert d.admit(q) == "duplicate"


def test_near_index() -> None:
    idx = NearIndex()
    idx.add("a b c d e", "x y z")
    assert idx.find("a b c d e", "x y z")
    assert not idx.find("a b c d e", "p q r")
    assert not idx.find("a b c d e")  # a different number of fields never matches
    assert near("One two three four.", "one two three four") and not near("a b c", "d e f")


def test_seed_free_leaf_admits_everything_once() -> None:
    leaf = replace(freeform_leaf(), seeds=[], heldout=[SeedExample("Only one?", "Yes.")])
    d = LeafDeduper(leaf)
    assert d.admit("Something entirely new to ask about?") is None
