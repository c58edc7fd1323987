"""Document-derived knowledge rows (trainer/sdg/augment.py): which facts and names are asked,
the cheap filters on real texts, and the stage end to end with the tiny teacher."""

from __future__ import annotations

from dataclasses import replace

from tests.trainer.sdg.conftest import Recording, knowledge_leaf
from trainer.leaves import Document, LeafData, SeedExample
from trainer.models import ChatModel
from trainer.sdg.augment import facts, invented_terms, names
from trainer.sdg.chunking import Chunk
from trainer.sdg.pipeline import PipelineConfig, run_pipeline
from trainer.text.overlap import copied_share

PASSAGE = (
    "Veloria was founded in 1387 by eleven fishing families from Brennholt. "
    "The families were led by Marta Oskel down the river Ossa to the bay. "
    "A bronze statue of Marta Oskel stands at the head of the Old Quay. "
    "the harbor is deep and the winters are mild."
)


def chunk(text: str = PASSAGE, index: int = 0) -> Chunk:
    return Chunk("documents/veloria.md", index, text, 60)


def named_leaf() -> LeafData:
    """A knowledge leaf whose document has names and numbers, with seeds from it."""
    doc = Document("documents/veloria.md", f"# Veloria: History of the Town\n\n{PASSAGE}")
    seeds = [
        SeedExample(f"Question {i} about Veloria's founding?", "It was founded in 1387.", PASSAGE)
        for i in range(5)
    ]
    base = knowledge_leaf()
    return replace(base, seeds=seeds, heldout=[], documents=[doc])


def test_facts_are_sentences_with_a_term_each_once_across_overlapping_chunks() -> None:
    found = facts([chunk(), chunk(PASSAGE.split(". ", 1)[1], 1)])
    assert [f.sentence for f in found] == [
        "Veloria was founded in 1387 by eleven fishing families from Brennholt.",
        "The families were led by Marta Oskel down the river Ossa to the bay.",
        "A bronze statue of Marta Oskel stands at the head of the Old Quay.",
    ]  # the last sentence has no term (no number, no name after its first word)
    assert {f.chunk.index for f in found} == {0}


def test_names_most_mentioned_first() -> None:
    assert names(chunk())[0] == "Marta Oskel"
    assert set(names(chunk())) == {"Marta Oskel", "Brennholt", "Ossa", "Old Quay"}
    assert "1387" not in names(chunk())  # numbers are terms, not names


def test_invented_terms_are_numbers_and_names_the_chunk_lacks() -> None:
    assert invented_terms("Veloria was founded in 1387 by Marta Oskel.", PASSAGE) == []
    assert invented_terms("It was founded in 1390 by Jon Harl.", PASSAGE) == ["1390", "Jon Harl"]
    # each sentence's first word is no name, wherever the sentence starts
    assert invented_terms("It lies on a bay. Its founders came from Brennholt.", PASSAGE) == []


def test_copied_share_tells_a_copy_from_a_rewrite() -> None:
    copy = "Veloria was founded in 1387 by eleven fishing families from Brennholt."
    rewrite = "Eleven families who fished, coming from Brennholt, founded Veloria in the year 1387."
    assert copied_share(copy, PASSAGE) == 1.0
    assert copied_share(rewrite, PASSAGE) == 0.0
    assert copied_share("Founded in 1387.", PASSAGE) == 0.0  # under 8 words: not judged


def test_off_by_default_no_prompt_and_no_row(teacher: ChatModel) -> None:
    recording = Recording(teacher)
    result = run_pipeline(named_leaf(), recording, PipelineConfig(samples=0))  # type: ignore[arg-type]
    assert recording.sent == [] and result.stats.document_rows == 0


def test_document_rows_end_to_end(teacher: ChatModel) -> None:
    """Each chosen fact and name reaches its prompt; every candidate ends in one bucket;
    what is kept is closed-book and carries its chunk."""
    cfg = PipelineConfig(samples=0, fact_questions=2, rephrasings=2, chunk_tokens=200)
    recording = Recording(teacher)
    result = run_pipeline(named_leaf(), recording, cfg)  # type: ignore[arg-type]
    sent = [c[0]["content"] for c in recording.sent]
    asked = [p for p in sent if "Fact: " in p]
    assert len(asked) == 2 and all("Write 3 different questions" in p for p in asked)
    about = [p for p in sent if "one short paragraph about" in p]
    assert [p.split("paragraph about ", 1)[1].split(":", 1)[0] for p in about] == [
        "Marta Oskel",
        "Brennholt",
    ]  # the chunk's most mentioned name, then the next one not yet used
    stats = result.stats
    assert stats.funnel_total() == stats.generated > 0
    assert stats.kept == stats.document_rows
    documents = [r for r in result.rows if r["metadata"]["source"] == "generated"]
    assert len(documents) == stats.document_rows
    for row in documents:
        assert not row["messages"][0]["content"].startswith("Context:")
        assert row["metadata"]["chunk"]["document"] == "documents/veloria.md"
    again = run_pipeline(named_leaf(), Recording(teacher), cfg)  # type: ignore[arg-type]
    assert again.rows == result.rows  # the facts and names asked are fixed by the content


def test_document_rows_skip_skill_leaves(teacher: ChatModel) -> None:
    from tests.trainer.sdg.conftest import freeform_leaf

    cfg = PipelineConfig(samples=0, fact_questions=2, rephrasings=2)
    recording = Recording(teacher)
    run_pipeline(freeform_leaf(), recording, cfg)  # type: ignore[arg-type]
    assert recording.sent == []


def test_filters_on_real_candidates_and_the_closed_book_row(teacher: ChatModel) -> None:
    """The cheap filters in the order document_rows runs them, on candidates of the kinds a
    small teacher writes; a survivor's row has no passage but names its chunk."""
    from trainer.sdg.augment import check_copies, check_terms
    from trainer.sdg.knowledge import check_grounded
    from trainer.sdg.pipeline import generated_row
    from trainer.sdg.stage import Sample, StageRunner

    leaf, c = named_leaf(), chunk()
    run = StageRunner(leaf, teacher, PipelineConfig())

    def sample(answer: str) -> Sample:
        return Sample("When was Veloria founded?", answer, c.text, c, closed_book=True)

    good = sample("Eleven families who fished, coming from Brennholt, founded Veloria in 1387.")
    candidates = [
        good,
        sample("Veloria was founded in 1390 by the Harbor Guild."),  # invented terms
        sample("It was a sunny morning and everyone celebrated with music and cake."),
        sample("Veloria was founded in 1387 by eleven fishing families from Brennholt."),
    ]
    about = Sample(
        'What does "Veloria: History of the Town" say about Marta Oskel?',
        "Marta Oskel led eleven families from Brennholt; a statue of her in bronze stands by "
        "the Old Quay.",
        c.text,
        c,
        closed_book=True,
    )  # the title's words are in no chunk, yet known
    candidates.append(about)
    kept = check_copies(run, check_grounded(run, check_terms(run, candidates)))
    assert kept == [good, about]
    assert (run.stats.ungrounded, run.stats.copied) == (2, 1)
    row = generated_row(leaf, teacher, good)
    assert row["messages"][0]["content"] == "When was Veloria founded?"
    assert row["metadata"]["chunk"] == {"document": "documents/veloria.md", "index": 0}
