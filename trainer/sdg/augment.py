"""Document-derived knowledge rows: what a leaf's documents say, in other words than theirs,
asked closed-book.

LAB's knowledge rows put the passage in the prompt and the loss on the answer: the model
learns to read a passage, not what it says, and a closed-book question finds nothing
stored. Knowledge becomes extractable when each fact is seen in several phrasings (Physics
of Language Models 3.1), and entity-centred rewrites of a small corpus carry most of what
it holds (EntiGraph). So, beside LAB's rows, and each off at 0:

- fact questions: `fact_questions` document sentences with a salient term
  (trainer/sdg/facts.py), each sent with its chunk; the teacher writes
  `questions_per_fact` questions about it, each with an answer in its own words. Row:
  question -> answer, no passage.
- rephrasings: `rephrasings` names, each the one its chunk mentions most among those not yet
  used; the teacher writes a paragraph of what the chunk says about it. Row: 'What does
  "<document title>" say about <name>?' -> paragraph, no passage.

Which sentences and names are asked is a hash order of their text: fixed by the content,
blind to what the benchmark holds out. Filters, cheapest first: parse; duplicates (of a seed
question or an earlier output); invented terms (a number or name the chunk does not
contain); grounding (as LAB's rows); copies (half or more of the text's word 8-grams are
the chunk's: no new phrasing); the faithfulness judge, calibrated on the leaf's seeds
(judge.py). The export then drops any row that shares an 8-gram with a held-out item, so
a row may teach a fact the benchmark asks, never the item's wording.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TypeVar

from trainer.sdg.chunking import Chunk, sentences
from trainer.sdg.facts import document_sentences, terms, title
from trainer.sdg.filters import BUCKET, LeafDeduper
from trainer.sdg.knowledge import admit_pairs, check_grounded, check_judges
from trainer.sdg.parse import parse_text
from trainer.sdg.stage import Sample, StageRunner, derive_seed
from trainer.text.overlap import copied_share

T = TypeVar("T")
COPIED = 0.5  # share of a text's 8-grams found in its chunk that makes it a copy


@dataclass(frozen=True)
class Fact:
    sentence: str
    chunk: Chunk


def facts(chunks: list[Chunk]) -> list[Fact]:
    """Each chunk's sentences with a salient term, a sentence once (chunks overlap)."""
    found: dict[str, Fact] = {}
    for chunk in chunks:
        for sentence in document_sentences(chunk.text):
            if terms(sentence) and sentence not in found:
                found[sentence] = Fact(sentence, chunk)
    return list(found.values())


def names(chunk: Chunk) -> list[str]:
    """The names a chunk mentions, most often first (ties in text order)."""
    found = [t for s in document_sentences(chunk.text) for t in terms(s)]
    counts = Counter(t.text for t in found if t.type == "name")
    return [n for n, _ in counts.most_common()]


def hash_order(run: StageRunner, stage: str, items: list[T], text: list[str]) -> list[T]:
    rank = {i: derive_seed(run.config.seed, run.leaf.path, stage, t) for i, t in enumerate(text)}
    return [items[i] for i in sorted(rank, key=rank.__getitem__)]


def invented_terms(text: str, chunk: str) -> list[str]:
    """Numbers and names in `text` (sentence by sentence, so a sentence's first word is
    no name) that `chunk` does not contain."""
    return [t.text for s in sentences(text) for t in terms(s) if t.text not in chunk]


def write_fact_questions(
    run: StageRunner, dedupe: LeafDeduper, chunks: list[Chunk]
) -> list[Sample]:
    cfg, stage = run.config, "fact_questions"
    found = facts(chunks)
    chosen = hash_order(run, stage, found, [f.sentence for f in found])[: cfg.fact_questions]
    prompts = [
        run.prompt(
            "knowledge_fact_questions",
            chunk=f.chunk.text,
            fact=f.sentence,
            count=str(cfg.questions_per_fact),
        )
        for f in chosen
    ]
    out = []
    for fact, gen in zip(
        chosen, run.generate(stage, 0, prompts, cfg.max_new_tokens.fact_questions), strict=True
    ):
        for pair in admit_pairs(run, stage, gen, cfg.questions_per_fact, dedupe):
            out.append(_sample(pair.question, pair.answer, fact.chunk))
    return out


def _sample(question: str, answer: str, chunk: Chunk) -> Sample:
    return Sample(question, answer, context=chunk.text, chunk=chunk, closed_book=True)


def _entities(run: StageRunner, chunks: list[Chunk]) -> list[tuple[Chunk, str]]:
    """Up to `rephrasings` (chunk, name) pairs, chunks in hash order, a name once."""
    used: set[str] = set()
    out: list[tuple[Chunk, str]] = []
    for chunk in hash_order(run, "rephrase", chunks, [c.text for c in chunks]) * 2:
        fresh = [n for n in names(chunk) if n not in used]
        if fresh and len(out) < run.config.rephrasings:
            used.add(fresh[0])
            out.append((chunk, fresh[0]))
    return out


def write_rephrasings(run: StageRunner, dedupe: LeafDeduper, chunks: list[Chunk]) -> list[Sample]:
    cfg, stage = run.config, "rephrase"
    chosen = _entities(run, chunks)
    prompts = [run.prompt("knowledge_rephrase", chunk=c.text, entity=e) for c, e in chosen]
    titles = {d.name: title(d.name, d.text) for d in run.leaf.documents}
    out = []
    for (chunk, entity), gen in zip(
        chosen, run.generate(stage, 0, prompts, cfg.max_new_tokens.rephrase), strict=True
    ):
        parsed = parse_text(gen.text, gen.finish_reason == "length", min_words=12, max_words=250)
        run.rejects(stage, parsed.rejects)
        question = f'What does "{titles.get(chunk.document, chunk.document)}" say about {entity}?'
        for text in parsed.items:
            if verdict := dedupe.admit(question):
                run.reject(stage, verdict, question, BUCKET[verdict])
            else:
                out.append(_sample(question, text, chunk))
    return out


def check_terms(run: StageRunner, candidates: list[Sample]) -> list[Sample]:
    """Drop a question or answer naming a number or name its chunk lacks (the documents'
    titles count as known: a rephrasing's question names its document)."""
    titles = "\n".join(title(d.name, d.text) for d in run.leaf.documents)
    out = []
    for c in candidates:
        if made_up := invented_terms(f"{c.question}\n{c.answer}", f"{c.context}\n{titles}"):
            run.reject("terms", "not_in_chunk", f"{made_up}: {c.answer}", "ungrounded")
        else:
            out.append(c)
    return out


def check_copies(run: StageRunner, candidates: list[Sample]) -> list[Sample]:
    out = []
    for c in candidates:
        if copied_share(c.answer, c.context or "") >= COPIED:
            run.reject("copies", "chunk_8grams", c.answer, "copied")
        else:
            out.append(c)
    return out


def document_rows(run: StageRunner, chunks: list[Chunk], dedupe: LeafDeduper) -> list[Sample]:
    """The leaf's document-derived rows that pass every filter (none for a skill leaf)."""
    if run.leaf.kind != "knowledge" or not chunks:
        return []
    candidates = write_fact_questions(run, dedupe, chunks) if run.config.fact_questions else []
    if run.config.rephrasings:
        candidates += write_rephrasings(run, dedupe, chunks)
    candidates = check_copies(run, check_grounded(run, check_terms(run, candidates)))
    return check_judges(run, 0, candidates, only=("faithfulness",))
