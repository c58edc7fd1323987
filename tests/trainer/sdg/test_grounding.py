"""The grounding check: the share of an answer's content words found in its chunk."""

from __future__ import annotations

import pytest

from trainer.sdg.grounding import grounded_share
from trainer.text.content import content_words

CHUNK = "Veloria's harbor was dredged in 1821. The lighthouse keeper rang the bell at dusk."


def test_function_words_and_case_do_not_count() -> None:
    assert content_words("The Harbor was dredged in 1821.") == ["harbor", "dredged", "1821"]


def test_share_of_content_words_in_the_chunk() -> None:
    assert grounded_share("It was dredged in 1821.", CHUNK) == 1.0
    assert grounded_share("The harbor was painted blue in 1900.", CHUNK) == pytest.approx(1 / 4)
    assert grounded_share("Yes, it was.", CHUNK) == 0.0  # its one content word is not there
