"""Multiple-choice items built from a knowledge leaf's documents (the MMLU-branch analogue).

LAB's MMLU-branch asks a teacher to write questions about the documents; these are built
without one. Each document is cut into sentences and in a sentence a *salient term* (a
year, a number, a date, a name) is blanked.

Sentences and terms: trainer/sdg/facts.py. The distractors are three other terms of the same
type found anywhere in the leaf's documents, never appearing in the sentence itself: same
shape first (as many digits, or as many words), then any, each group ranked by a hash of
(sentence, term). The four options are the whole sentence with each term filled in, scored
after the prompt `State a fact from the document "<title>".`: the model that finds the true
sentence most likely gets it right. Which term of a sentence is blanked, and which sentences
become items (`per_leaf` of them), are hash orders too. A leaf whose documents offer fewer
eligible sentences gets fewer items, and the report counts the shortfall.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from trainer.evaluation.items import Item, normal, rank_key, shuffle_options
from trainer.leaves import LeafData
from trainer.sdg.facts import Term, document_sentences, terms, title


@dataclass(frozen=True)
class ClozeResult:
    items: list[Item]
    eligible: int  # sentences with a blankable term and enough distractors


def _distractors(key: str, term: Term, sentence: str, pool: Sequence[Term]) -> list[str] | None:
    same = [t for t in pool if t.type == term.type and normal(t.text) != normal(term.text)]
    same = [t for t in same if not re.search(rf"(?<!\w){re.escape(t.text)}(?!\w)", sentence)]
    ranked = sorted(same, key=lambda t: (t.shape != term.shape, rank_key(key, t.text)))
    chosen: list[str] = []
    for t in ranked:
        if normal(t.text) not in {normal(c) for c in chosen}:
            chosen.append(t.text)
        if len(chosen) == 3:
            return chosen
    return None


def cloze_items(suite: str, leaf: LeafData, per_leaf: int) -> ClozeResult:
    docs = [(d, document_sentences(d.text)) for d in leaf.documents]
    pool = list({t: None for _, sents in docs for s in sents for t in terms(s)})
    candidates: list[tuple[str, Item]] = []
    for doc, sents in docs:
        prompt = f'State a fact from the document "{title(doc.name, doc.text)}".'
        for sentence in dict.fromkeys(sents):
            key = rank_key(leaf.path, doc.name, sentence)
            counts = {t.text: sentence.count(t.text) for t in terms(sentence)}
            blankable = sorted(
                {t for t in terms(sentence) if counts[t.text] == 1},
                key=lambda t: rank_key(key, t.text),
            )
            for term in blankable:
                wrong = _distractors(key, term, sentence, pool)
                if wrong is None:
                    continue
                filled = [sentence.replace(term.text, w, 1) for w in wrong]
                options, correct = shuffle_options(key, sentence, filled)
                question = sentence.replace(term.text, "_____", 1)
                item = Item(
                    suite, leaf.path, "doc_mc", question, prompt, sentence, prompt, options, correct
                )
                candidates.append((key, item))
                break
    candidates.sort(key=lambda c: c[0])
    return ClozeResult([item for _, item in candidates[:per_leaf]], len(candidates))
