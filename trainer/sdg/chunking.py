"""Token-sized pieces of text with the teacher's own tokenizer.

Knowledge documents are cut into chunks on markdown paragraph boundaries (a paragraph too
long for one chunk is cut between sentences, and a sentence too long between tokens), each
chunk at most `max_tokens` long. Consecutive chunks share a few trailing sentences
(`overlap_tokens`) so a fact stated across a boundary is whole in at least one chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trainer.leaves import Document
from trainer.models import Tokenizer

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
SEP = "\n\n"


@dataclass(frozen=True)
class Chunk:
    document: str  # Document.name
    index: int  # position within its document
    text: str
    tokens: int


def count(tokenizer: Tokenizer, text: str) -> int:
    return len(tokenizer.encode(text))


def truncate_tokens(tokenizer: Tokenizer, text: str, max_tokens: int) -> str:
    """text cut to at most max_tokens tokens (at a word boundary, marked with ' ...')."""
    ids = tokenizer.encode(text)
    if len(ids) <= max_tokens:
        return text
    cut = tokenizer.decode(ids[: max(0, max_tokens - 2)]).rstrip("\ufffd")
    space = cut.rfind(" ")
    if space > 0.7 * len(cut):
        cut = cut[:space]
    return f"{cut.rstrip()} ..."


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_BREAK.split(text.strip()) if s.strip()]


def _split_tokens(tokenizer: Tokenizer, text: str, max_tokens: int) -> list[str]:
    """Pieces of at most max_tokens, cut at the last space inside each token window."""
    out, rest = [], text.strip()
    while rest:
        ids = tokenizer.encode(rest)
        if len(ids) <= max_tokens:
            out.append(rest)
            break
        head = tokenizer.decode(ids[:max_tokens])
        if not rest.startswith(head):  # a tokenizer that does not round-trip: cut blindly
            out.append(head.strip())
            rest = tokenizer.decode(ids[max_tokens:]).strip()
            continue
        if (space := head.rfind(" ")) > 0:
            head = head[:space]
        out.append(head.strip())
        rest = rest[len(head) :].strip()
    return [p for p in out if p]


def _units(tokenizer: Tokenizer, text: str, max_tokens: int) -> list[str]:
    """Paragraphs, each cut into sentence groups (or token windows) if it is too long."""
    out: list[str] = []
    for para in _PARAGRAPH_BREAK.split(_FRONT_MATTER.sub("", text.replace("\r\n", "\n"))):
        para = para.strip()
        if not para:
            continue
        if count(tokenizer, para) <= max_tokens:
            out.append(para)
            continue
        group = ""
        for sentence in sentences(para):
            if count(tokenizer, sentence) > max_tokens:
                if group:
                    out.append(group)
                    group = ""
                out += _split_tokens(tokenizer, sentence, max_tokens)
            elif group and count(tokenizer, f"{group} {sentence}") > max_tokens:
                out.append(group)
                group = sentence
            else:
                group = f"{group} {sentence}".strip()
        if group:
            out.append(group)
    return out


def _tail(tokenizer: Tokenizer, text: str, max_tokens: int) -> str:
    """The longest run of trailing sentences of text within max_tokens ('' if none fits)."""
    tail = ""
    for sentence in reversed(sentences(text)):
        longer = f"{sentence} {tail}".strip()
        if count(tokenizer, longer) > max_tokens:
            break
        tail = longer
    return tail


def chunk_text(
    tokenizer: Tokenizer, text: str, max_tokens: int, overlap_tokens: int = 0
) -> list[str]:
    if max_tokens < 8 or not 0 <= overlap_tokens < max_tokens // 2:
        raise ValueError("need max_tokens >= 8 and 0 <= overlap_tokens < max_tokens / 2")
    chunks: list[list[str]] = []
    current: list[str] = []
    for unit in _units(tokenizer, text, max_tokens):
        if not current or count(tokenizer, SEP.join([*current, unit])) <= max_tokens:
            current.append(unit)
            continue
        start: list[str] = []
        if (
            len(current) > 1
            and current[-1].startswith("#")
            and count(tokenizer, SEP.join([current[-1], unit])) <= max_tokens
        ):
            start = [current.pop()]  # a heading belongs with the text it introduces
        elif (
            overlap_tokens
            and (tail := _tail(tokenizer, current[-1], overlap_tokens))
            and count(tokenizer, SEP.join([tail, unit])) <= max_tokens
        ):
            start = [tail]
        chunks.append(current)
        current = [*start, unit]
    if current:
        chunks.append(current)
    return [SEP.join(c) for c in chunks]


def chunk_documents(
    tokenizer: Tokenizer, documents: list[Document], max_tokens: int, overlap_tokens: int = 0
) -> list[Chunk]:
    return [
        Chunk(doc.name, i, text, count(tokenizer, text))
        for doc in documents
        for i, text in enumerate(chunk_text(tokenizer, doc.text, max_tokens, overlap_tokens))
    ]
