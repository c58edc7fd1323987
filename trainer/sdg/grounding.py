"""A cheap grounding check for knowledge answers: are the answer's words in its chunk?

LAB's knowledge answers restate the passage; an answer whose content words mostly appear
nowhere in the chunk it was written from is the teacher's invention, whatever a judge says.
No model call: it runs before the judges and spares them the obvious cases.
"""

from __future__ import annotations

from trainer.text.content import content_words


def grounded_share(answer: str, chunk: str) -> float:
    """The share of the answer's distinct content words that its chunk contains (0 for an
    answer without any)."""
    words = set(content_words(answer))
    if not words:
        return 0.0
    return len(words & set(content_words(chunk))) / len(words)
