"""Reading teacher replies: lists, free text, Q&A pairs, scores, yes/no. Never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainer.sdg.parse import (
    is_refusal,
    parse_list,
    parse_qa_pairs,
    parse_score,
    parse_text,
    parse_yes_no,
)


def reasons(parsed: object) -> list[str]:
    return [r.reason for r in getattr(parsed, "rejects", [])]


def test_numbered_list_with_preamble_outro_and_variants() -> None:
    text = (
        "Sure! Here are five new tasks:\n\n"
        '1. What is the opposite of "brave"?\n'
        '2) **Give me an antonym for the word "quiet".**\n'
        '(3) Task: Which word means the opposite of "shrink"?\n'
        '**4.** Tell me the opposite of "victory". Answer: defeat\n'
        '- List two antonyms for "happy".\n'
        '6. 6. Name the opposite of "early".\n\n'
        "I hope these help!"
    )
    parsed = parse_list(text, truncated=False)
    assert parsed.items == [
        'What is the opposite of "brave"?',
        'Give me an antonym for the word "quiet".',
        'Which word means the opposite of "shrink"?',
        'Tell me the opposite of "victory".',
        'List two antonyms for "happy".',
        'Name the opposite of "early".',
    ]
    assert parsed.rejects == []


def test_list_items_continue_until_a_blank_line() -> None:
    text = (
        "1. Rewrite this sentence, replacing the word in capitals:\n"
        "   The soup was far too HOT to eat.\n\n"
        "This list is for practice.\n"
        '2. What is the opposite of "wide"?'
    )
    assert parse_list(text, truncated=False).items == [
        "Rewrite this sentence, replacing the word in capitals: The soup was far too HOT to eat.",
        'What is the opposite of "wide"?',
    ]


def test_truncated_list_drops_the_last_item() -> None:
    parsed = parse_list("1. What is the opposite of up?\n2. What is the opp", truncated=True)
    assert parsed.items == ["What is the opposite of up?"]
    assert reasons(parsed) == ["truncated"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\n ", "empty"),
        ("I'm sorry, but I can't help with that request.", "refusal"),
        ("As an AI language model, I do not have opinions.", "refusal"),
        ("Antonyms are words with opposite meanings. They are useful.", "no_list"),
        ("```\n```", "empty"),
    ],
)
def test_unusable_lists(text: str, reason: str) -> None:
    parsed = parse_list(text, truncated=False)
    assert parsed.items == []
    assert reasons(parsed) == [reason]


def test_bad_items_are_rejected_one_by_one() -> None:
    loop = "moved " * 30
    text = f"1. Hi\n2. {loop}\n3. I'm sorry, I cannot write that task.\n4. What is a good antonym?"
    parsed = parse_list(text, truncated=False)
    assert parsed.items == ["What is a good antonym?"]
    assert reasons(parsed) == ["too_short", "repetitive", "refusal"]
    long = "1. " + " ".join(f"w{i}" for i in range(200))
    assert reasons(parse_list(long, truncated=False)) == ["too_long"]


def test_free_text_strips_chatter_labels_and_fences() -> None:
    assert parse_text("Sure! Here is the answer:\nThe opposite of hot is cold.", False).items == [
        "The opposite of hot is cold."
    ]
    assert parse_text("Answer: The opposite of hot is cold.", False).items == [
        "The opposite of hot is cold."
    ]
    assert parse_text(
        "```\nGray fog on the bay\nboats drift\n```\n\nI hope this helps!", False
    ).items == ["Gray fog on the bay\nboats drift"]
    # a single line that happens to start like chatter is the answer itself
    assert parse_text("Sure, the opposite of hot is cold.", False).items == [
        "Sure, the opposite of hot is cold."
    ]
    # bullets in an answer are content, not decoration
    assert parse_text("- Felix: buy a tap.\n- Grace: design the poster.", False).items == [
        "- Felix: buy a tap.\n- Grace: design the poster."
    ]


def test_free_text_failures() -> None:
    assert reasons(parse_text("", False)) == ["empty"]
    assert reasons(parse_text("I'm sorry, I cannot help with that.", False)) == ["refusal"]
    assert reasons(parse_text("The answer is that the", True)) == ["truncated"]
    assert reasons(parse_text("the same " * 20, False)) == ["repetitive"]
    assert reasons(parse_text("Too short.", False, min_words=12)) == ["too_short"]
    assert reasons(parse_text("The Basics of a Book:", False)) == ["unfinished"]


def test_truncated_context_is_cut_to_its_last_sentence() -> None:
    text = (
        "The market opens at dawn. Traders bring fish from the harbor and bread from the "
        "hills. By noon the square is full of voices. Then the rain st"
    )
    parsed = parse_text(text, True, min_words=12, cut_truncated=True)
    assert parsed.items == [text[: text.rindex(".") + 1]]
    assert reasons(
        parse_text(
            "One sentence. And then a very long unfinished one that goes on "
            "and on and on without end",
            True,
            cut_truncated=True,
        )
    ) == ["truncated"]


def test_qa_pairs() -> None:
    text = (
        "Here are some questions:\n"
        "Q: When was Veloria founded?\nA: In 1387, by eleven families.\n\n"
        "**Question 2:** Who led them?\n**Answer:** Marta Oskel,\na net-maker.\n"
        "3. Q: What is the Ribbon?\nA: A stone breakwater.\n"
        "Q: Where is the lighthouse?\n"
        "Q: What burned in the lamp?\nA: Whale oil, later paraffin.\n"
        "A: an orphan answer\n"
        "Q: How tall is the tower?\nA: 38 me"
    )
    pairs, rejects = parse_qa_pairs(text, truncated=True)
    assert [(p.question, p.answer) for p in pairs] == [
        ("When was Veloria founded?", "In 1387, by eleven families."),
        ("Who led them?", "Marta Oskel, a net-maker."),
        ("What is the Ribbon?", "A stone breakwater."),
        ("What burned in the lamp?", "Whale oil, later paraffin."),
    ]
    assert [r.reason for r in rejects] == ["no_answer", "truncated"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Veloria is a town.", "no_pairs"),
        ("I'm sorry, I cannot answer questions about this passage.", "refusal"),
    ],
)
def test_qa_failures(text: str, reason: str) -> None:
    pairs, rejects = parse_qa_pairs(text, truncated=False)
    assert pairs == [] and [r.reason for r in rejects] == [reason]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Score: 2", 2),
        ("score:3", 3),
        ("**Score:** 2/3", 2),
        ("Rating: 3", 3),
        ("The answer is fine. 2/3", 2),
        ("I give it 2 out of 3.", 2),
        ("3", 3),
        (" 1.", 1),
        ("Score: 1\n\nScore: 3", 3),  # the last labelled score is the verdict
        ("Score: 3: correct, complete and follows the task.", 3),
        ("Score 2 - mostly right", 2),
        ("Score: 5", None),
        ("Score: 0", None),
        ("Score: 2.5", None),
        ("Score: 2/5", None),
        ("The answer has 3 lines and 5 words.", None),
        ("", None),
        ("Score:", None),
        ("This task is not a clear, complete, or safe task.", None),
        ("2/5", None),
    ],
)
def test_pair_scores(text: str, expected: int | None) -> None:
    assert parse_score(text, 1, 3) == expected


def test_binary_scores() -> None:
    assert parse_score("Score: 1", 0, 1) == 1
    assert parse_score("Score: 0", 0, 1) == 0
    assert parse_score("Score: 2", 0, 1) is None
    assert parse_score("1/1", 0, 1) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", True),
        ("yes.", True),
        ("**No**, it is not.", False),
        ("No, the passage does not say that. Yes?", False),
        ("The answer is supported: yes.", True),
        ("It is not mentioned, so no.", False),
        ("Maybe.", None),
        ("", None),
        ("It says yes and no.", None),
        ("Nobody knows", None),
    ],
)
def test_yes_no(text: str, expected: bool | None) -> None:
    assert parse_yes_no(text) is expected


def test_refusal_detection_looks_at_the_opening() -> None:
    assert is_refusal("I cannot provide that information.")
    assert not is_refusal("The lighthouse keeper said: " + "x " * 100 + "I'm sorry.")
    assert not is_refusal("Maple leaves let go, spinning down in amber light.")


@given(st.text(max_size=400), st.booleans())
def test_parsers_never_raise(text: str, truncated: bool) -> None:
    parse_list(text, truncated)
    parse_text(text, truncated, cut_truncated=truncated)
    parse_qa_pairs(text, truncated)
    assert parse_score(text, 1, 3) in (None, 1, 2, 3)
    parse_yes_no(text)
