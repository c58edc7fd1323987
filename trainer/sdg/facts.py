"""The facts of a knowledge document: its sentences and their salient terms.

Shared by the held-out fact items (trainer/evaluation/heldout.py, cloze.py), which blank a
term of a sentence, and the document-derived training rows (trainer/sdg/augment.py), which
ask about a sentence and check that the teacher invented no term. A document is cut into
sentences (markdown headings, tables, code and very short or very long sentences skipped);
a sentence's *salient terms* are:

- year: a standalone 4-digit number from 1000 to 2099;
- number: any other standalone number (digits with optional , or . groups);
- date: a month or weekday name;
- name: any other run of capitalised words or acronyms that is not the sentence's first
  word (a possessive 's stays outside, a hyphenated word like Mars-sized is no name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    """A document's first `# ` heading, else its file name in words."""
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return name.rsplit("/", 1)[-1].removesuffix(".md").replace("_", " ")
