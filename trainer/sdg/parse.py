"""Reading the teacher's free-text replies.

Nothing here raises on bad output: every parser returns what it could use plus the reasons
for what it could not (`Reject`), so the pipeline counts each failure per filter. Small
teachers produce empty, truncated, refusing, rambling and repeated text all the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from trainer.text.shingles import words

Reason = Literal[
    "empty",
    "refusal",
    "truncated",
    "no_list",
    "no_pairs",
    "no_answer",
    "too_short",
    "too_long",
    "repetitive",
    "unfinished",
]


@dataclass(frozen=True)
class Reject:
    reason: Reason
    text: str


@dataclass(frozen=True)
class Parsed:
    """What one reply yielded: usable items, and what was thrown away and why."""

    items: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass(frozen=True)
class QAPair:
    question: str
    answer: str


_REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|i apologi[sz]e|unfortunately,? i|"
    r"i (?:can ?not|can't|cannot|am unable to|'m unable to|am not able to|won't) "
    r"(?:help|assist|provide|do|write|answer|comply|fulfil|create|generate))",
    re.I,
)
_AS_AN_AI = re.compile(r"\bas an ai\b|\bas an? (?:large )?language model\b", re.I)
_CHATTER_HEAD = re.compile(
    r"^(?:sure|certainly|of course|okay|ok|absolutely|here (?:is|are))\b", re.I
)
_CHATTER_TAIL = re.compile(
    r"^(?:i hope|let me know|feel free|hope this|these (?:tasks|questions)"
    r" (?:are|should|will))",
    re.I,
)
_LABEL = re.compile(
    r"^(?:\*\*)?(?:answer|a|response|output|text|context|passage)\s*(?:\*\*)?\s*:"
    r"\s*(?:\*\*)?\s*",
    re.I,
)
_ITEM = re.compile(
    r"^\s*(?:\*\*)?(?:\d{1,3}[.):\]]|\(\d{1,3}\)|[-*\u2022]|(?:task|question|instruction)"
    r"\s*\d+\s*[:.)])(?=\s|\*\*)\s*(?:\*\*)?\s*(?P<text>.*)$",
    re.I,
)
_RULE = re.compile(r"\s*(?:-{3,}|\*{3,}|={3,}|_{3,})\s*")
_ITEM_LABEL = re.compile(
    r"^(?:\d{1,3}[.)]\s+)?(?:(?:\*\*)?(?:task|question|instruction|prompt)"
    r"\s*\d*\s*(?:\*\*)?\s*[:.-]\s*(?:\*\*)?\s*)?",
    re.I,
)
_APPENDED_ANSWER = re.compile(
    r"\s*(?:\(|\s[-\u2013\u2014]\s)?\b(?:answer|response|solution)"
    r"\s*:.*$",
    re.I | re.S,
)
_QA_LINE = re.compile(
    r"^\s*(?:\d{1,3}\s*[.)]\s*)?(?:\*\*)?(?P<kind>q|question|a|answer)\s*\d*"
    r"\s*(?:\*\*)?\s*[:.)]\s*(?:\*\*)?\s*(?P<text>.*)$",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")


def clean(text: str) -> str:
    """Newlines normalised, code fences dropped, outer whitespace stripped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(ln for ln in lines if not ln.strip().startswith("```")).strip()


def is_refusal(text: str) -> bool:
    """A refusal phrase in the opening, or 'As an AI' anywhere (never wanted in training)."""
    return bool(_REFUSAL.search(text[:160]) or _AS_AN_AI.search(text))


def is_repetitive(text: str) -> bool:
    """Degenerate loops: long text made of few distinct words."""
    ws = words(text)
    return len(ws) >= 12 and len(set(ws)) / len(ws) < 0.35


def _check(text: str, min_words: int, max_words: int) -> Reason | None:
    n = len(words(text))
    if n == 0:
        return "empty"
    if is_refusal(text):
        return "refusal"
    if n < min_words:
        return "too_short"
    if n > max_words:
        return "too_long"
    return "repetitive" if is_repetitive(text) else None


def _unwrap(text: str) -> str:
    """Bold or quotes around a whole item, only when nothing inside uses them."""
    t = text.strip()
    if len(t) > 4 and t.startswith("**") and t.endswith("**") and "**" not in t[2:-2]:
        t = t[2:-2].strip()
    elif t.count("**") == 1:  # the other half went with a list marker or label
        t = t.removeprefix("**").removesuffix("**").strip()
    for q in ('"', "\u201c\u201d"):
        o, c = q[0], q[-1]
        if len(t) > 2 and t[0] == o and t[-1] == c and o not in t[1:-1] and c not in t[1:-1]:
            t = t[1:-1].strip()
    return t


def _strip_chatter(lines: list[str]) -> list[str]:
    """Drop blank and rule lines, a "Sure! Here is ...:" opener and a "I hope ..." closer."""

    def skip(line: str) -> bool:
        return not line.strip() or bool(_RULE.fullmatch(line))

    while lines and skip(lines[0]):
        lines = lines[1:]
    head = lines[0].strip() if lines else ""
    if (
        len(lines) > 1
        and _CHATTER_HEAD.match(head)
        and len(words(head)) < 20
        and head.endswith((":", "!", "."))
    ):
        lines = lines[1:]
    while lines and (skip(lines[-1]) or _CHATTER_TAIL.match(lines[-1].strip())):
        lines = lines[:-1]
    while lines and skip(lines[0]):
        lines = lines[1:]
    return lines


def parse_list(text: str, truncated: bool, *, min_words: int = 3, max_words: int = 120) -> Parsed:
    """Items of a numbered (or bulleted) list; preamble and outro are ignored.

    An item runs on over following lines until a blank line or the next marker. When the
    reply hit the token limit, its last item is presumed cut off. Answers the teacher
    appended despite the prompt ("... Answer: ...") are cut away.
    """
    body = clean(text)
    if not body:
        return Parsed(rejects=[Reject("empty", text)])
    raw: list[str] = []
    open_item = False
    for line in body.split("\n"):
        if m := _ITEM.match(line):
            raw.append(m["text"].strip())
            open_item = True
        elif not line.strip():
            open_item = False
        elif open_item:
            raw[-1] = f"{raw[-1]} {line.strip()}".strip()
    if not raw:
        return Parsed(rejects=[Reject("refusal" if is_refusal(body) else "no_list", text)])
    items, rejects = [], []
    for i, item in enumerate(raw):
        item = _unwrap(_APPENDED_ANSWER.sub("", _ITEM_LABEL.sub("", _unwrap(item))))
        if truncated and i == len(raw) - 1:
            rejects.append(Reject("truncated", item))
        elif reason := _check(item, min_words, max_words):
            rejects.append(Reject(reason, item))
        else:
            items.append(item)
    return Parsed(items, rejects)


def parse_text(
    text: str,
    truncated: bool,
    *,
    min_words: int = 1,
    max_words: int = 800,
    cut_truncated: bool = False,
) -> Parsed:
    """One free-text reply (a response or a context): chatter and labels stripped.

    Replies ending in ":" announce content they never give and are dropped. Truncated
    replies are dropped too, or with cut_truncated cut back to their last complete
    sentence when that keeps most of the text (contexts only need to read as whole).
    """
    lines = _strip_chatter(clean(text).split("\n"))
    body = _unwrap(_LABEL.sub("", "\n".join(lines).strip()))
    if truncated and body:
        ends = [m.end() for m in _SENTENCE_END.finditer(body)]
        if not cut_truncated or not ends or ends[-1] < 0.6 * len(body):
            return Parsed(rejects=[Reject("truncated", body)])
        body = body[: ends[-1]]
    if reason := _check(body, min_words, max_words):
        return Parsed(rejects=[Reject(reason, body or text)])
    if body.endswith(":"):  # an introduction to content that never came
        return Parsed(rejects=[Reject("unfinished", body)])
    return Parsed([body])


def parse_qa_pairs(
    text: str, truncated: bool, *, min_words: int = 3, max_words: int = 200
) -> tuple[list[QAPair], list[Reject]]:
    """`Q: ... A: ...` pairs (also `Question 1:` / `**Answer:**` / numbered variants).

    A field runs on over following lines until a blank line or the next label. A question
    without an answer is rejected; when the reply was truncated the last pair is too.
    """
    body = clean(text)
    if not body:
        return [], [Reject("empty", text)]
    fields: list[list[str]] = []  # [question, answer-or-missing]
    current: int | None = None  # index into the open pair's fields, while a field is open
    for line in body.split("\n"):
        if m := _QA_LINE.match(line):
            if m["kind"].lower().startswith("q"):
                fields.append([m["text"].strip()])
                current = 0
            elif fields and len(fields[-1]) == 1:
                fields[-1].append(m["text"].strip())
                current = 1
            else:
                current = None  # an answer with no open question is ignored
        elif not line.strip():
            current = None
        elif current is not None:
            fields[-1][current] = f"{fields[-1][current]} {line.strip()}".strip()
    if not fields:
        return [], [Reject("refusal" if is_refusal(body) else "no_pairs", text)]
    pairs, rejects = [], []
    for i, f in enumerate(fields):
        q = _unwrap(f[0])
        if truncated and i == len(fields) - 1:
            rejects.append(Reject("truncated", q))
        elif len(f) < 2 or not words(f[1]):
            rejects.append(Reject("no_answer", q))
        elif reason := _check(q, min_words, max_words) or _check(f[1], 1, max_words):
            rejects.append(Reject(reason, f"{q}\n{f[1]}"))
        else:
            pairs.append(QAPair(q, _unwrap(f[1])))
    return pairs, rejects


# --- judges -----------------------------------------------------------------------------

_LABELLED = re.compile(
    r"\b(?:score|rating|rated|grade)\b\**\s*(?:is|of|=|:|-)?\s*\**\s*"
    r"(?P<n>\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(?P<d>\d+))?",
    re.I,
)
_FRACTION = re.compile(r"(?<![\d.])(?P<n>\d+(?:\.\d+)?)\s*(?:/|out of)\s*(?P<d>\d+)\b", re.I)
_BARE = re.compile(r"\W*(?P<n>\d+(?:\.\d+)?)\W*")
_YES_NO = re.compile(r"\b(yes|no)\b", re.I)


def parse_score(text: str, lo: int, hi: int) -> int | None:
    """A judge's score on the integer scale lo..hi, or None when there is none.

    Rule, first that applies: the last labelled score ("Score: 2", "rating: 3",
    "**Score:** 2/3"); else the last fraction over the scale's top ("2/3", "2 out of 3");
    else a reply that is just a number. A labelled fraction over another top, a
    non-integer, or a value outside the scale is no score at all: guessing would let
    noise through the filter.
    """
    t = clean(text)
    if found := list(_LABELLED.finditer(t)):
        m = found[-1]
        if m["d"] is not None and int(m["d"]) != hi:
            return None
    elif found := [f for f in _FRACTION.finditer(t) if int(f["d"]) == hi]:
        m = found[-1]
    elif bare := _BARE.fullmatch(t):
        m = bare
    else:
        return None
    value = float(m["n"])
    return int(value) if value.is_integer() and lo <= value <= hi else None


def parse_yes_no(text: str) -> bool | None:
    """The reply's first word if it is yes/no; else the only one of the two it contains."""
    t = clean(text)
    first = re.match(r"\W*(\w+)", t)
    if first and first[1].lower() in ("yes", "no"):
        return first[1].lower() == "yes"
    found = {m.lower() for m in _YES_NO.findall(t)}
    return found == {"yes"} if len(found) == 1 else None
