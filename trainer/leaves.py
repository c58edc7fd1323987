"""Leaf records: a taxonomy leaf as generation, training data and evaluation see it.

Plain data, built by the bot from a validated `qna.yaml` (bot/taxonomy/leaves.py): the seed
examples usable in prompts, the held-out ones apart, the documents, and a content hash that
changes exactly when generation's inputs change. Nothing here reads files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["knowledge", "freeform_skill", "grounded_skill"]
HASH_VERSION = "leaf-v1"


@dataclass(frozen=True)
class SeedExample:
    question: str
    answer: str
    context: str | None = None


@dataclass(frozen=True)
class Document:
    name: str  # path within its repository, or relative to the leaf folder
    text: str


@dataclass(frozen=True)
class LeafData:
    path: str  # taxonomy path, e.g. "compositional_skills/writing/freeform/haiku"
    kind: Kind
    branch: str
    task_description: str  # skills; for knowledge the document outline
    domain: str | None
    seeds: list[SeedExample]  # usable in generation prompts
    heldout: list[SeedExample]  # kept out of prompts, for the benchmarks
    documents: list[Document] = field(default_factory=list)
    content_hash: str = ""


def content_hash(raw: bytes, documents: list[Document]) -> str:
    """Of the leaf file's bytes and its documents: the generation store's key."""
    h = hashlib.sha256(HASH_VERSION.encode())
    for part in (raw, *(f"{d.name}\0{d.text}".encode() for d in documents)):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()
