"""The shingles the validator and the generator's filters share."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from trainer.text import shingles


@given(st.text(max_size=60) | st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_fast_path_splits_words_like_the_regex(text: str) -> None:
    keys = shingles._word_bytes(text)
    assert [k.decode() for k in keys] == shingles.words(text)
    ids = [zlib.crc32(w.encode()) for w in shingles.words(text)]
    grams = (
        {hash(tuple(ids))}
        if len(ids) < 3
        else set(map(hash, zip(ids, ids[1:], ids[2:], strict=False)))
    )
    assert shingles.shingles(text) == grams
