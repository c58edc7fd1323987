"""Multiple-choice items built from a knowledge leaf's documents (the MMLU-branch analogue).

LAB's MMLU-branch asks a teacher to write questions about the documents; these are built
without one. Each document is cut into sentences (markdown headings, tables, code and
very short or very long sentences skipped). In a sentence, a *salient term* is blanked:

- year: a standalone 4-digit number from 1000 to 2099;
- number: any other standalone number (digits with optional , or . groups);
- date: a month or weekday name;
- name: any other run of capitalised words or acronyms that is not the sentence's first
  word (a possessive 's stays outside, a hyphenated word like Mars-sized is no name).

The distractors are three other terms of the same type found anywhere in the leaf's
documents, never appearing in the sentence itself: same shape first (as many digits, or as
many words), then any, each group ranked by a hash of (sentence, term). The four options
are the whole sentence with each term filled in, scored after the prompt
`State a fact from the document "<title>".`: the model that finds the true sentence most
likely gets it right. Which term of a sentence is blanked, and which sentences become
items (`per_leaf` of them), are hash orders too. A leaf whose documents offer fewer
eligible sentences gets fewer items, and the report counts the shortfall.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from trainer.evaluation.items import Item, normal, rank_key, shuffle_options
from trainer.leaves import LeafData
from trainer.sdg.chunking import sentences

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_NUMBER = re.compile(r"(?<![\w.,-])\d+(?:[.,]\d+)*(?![\w])")
_NAME = re.compile(r"(?<![\w-])[A-Z]\w*(?:\s+[A-Z]\w*)*(?![\w-])")
_YEAR = re.compile(r"1\d{3}|20\d{2}")
_MONTHS = "January February March April May June July August September October November December"
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday"
_CALENDAR = frozenset(f"{_MONTHS} {_DAYS}".split(" "))
MIN_WORDS, MAX_WORDS = 6, 60


@dataclass(frozen=True)
class Term:
    text: str
    type: str  # "year" | "number" | "date" | "name"

    @property
    def shape(self) -> int:
        return len(self.text.split()) if self.type == "name" else len(re.sub(r"\D", "", self.text))


@dataclass(frozen=True)
class ClozeResult:
    items: list[Item]
    eligible: int  # sentences with a blankable term and enough distractors


def document_sentences(text: str) -> list[str]:
    out = []
    for para in _PARAGRAPH.split(_FRONT_MATTER.sub("", text.replace("\r\n", "\n"))):
        lines = [ln for ln in para.strip().splitlines() if ln.strip()]
        if not lines or lines[0].lstrip().startswith(("#", "|", "```", ">", "<")):
            continue
        joined = " ".join(_LIST_MARK.sub("", ln).strip() for ln in lines)
        out += [s for s in sentences(joined) if MIN_WORDS <= len(s.split()) <= MAX_WORDS]
    return out


def terms(sentence: str) -> list[Term]:
    found: list[Term] = []
    for m in _NUMBER.finditer(sentence):
        found.append(Term(m.group(), "year" if _YEAR.fullmatch(m.group()) else "number"))
    for m in _NAME.finditer(sentence):
        if m.start() > 0 and len(m.group()) > 1:
            found.append(Term(m.group(), "date" if m.group() in _CALENDAR else "name"))
    return found


def title(name: str, text: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return name.rsplit("/", 1)[-1].removesuffix(".md").replace("_", " ")


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
