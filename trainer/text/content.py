"""Content words: a text's words less the English function words, which carry no fact and
no topic ("the", "how", "which"). Shared by the grounding check of generated answers
(trainer/sdg/grounding.py) and the topic clusters of disperse-then-merge
(trainer/train/topics.py)."""

from __future__ import annotations

from trainer.text.shingles import words

_FUNCTION_TEXT = """
a an and are as at be been but by can did do does for from had has have he her his how i
if in into is it its long many may more most much no not of on or our she should so some
such than that the their them then there these they this those to was we were what when
where which who whom why will with would you your
"""
FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())


def content_words(text: str) -> list[str]:
    """The lower-cased words of `text` that are not function words, in order."""
    return [w for w in words(text) if w not in FUNCTION_WORDS]
