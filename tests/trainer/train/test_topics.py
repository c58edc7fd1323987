"""Topic clusters for disperse-then-merge: balanced spherical k-means on TF-IDF features."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.train.topics import features, topic_clusters

TEXTS = [
    "the moon Io orbits Jupiter",
    "sourdough bread needs flour and salt",
    "Europa is an icy moon of Jupiter",
    "bake the bread loaf in a hot oven",
    "Ganymede is the largest moon of Jupiter",
    "knead the flour into a bread dough",
]


def test_features_are_unit_rows_and_similar_texts_are_near() -> None:
    x = features(TEXTS)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0)
    sim = x @ x.T
    assert sim[0, 2] > sim[0, 1] and sim[1, 3] > sim[1, 2]  # a moon near a moon, bread near bread
    assert not features([""]).any()  # no words: a zero row, not a division by zero


def test_two_topics_make_two_clusters_for_every_seed() -> None:
    for seed in range(5):
        found = topic_clusters(TEXTS, 2, seed)
        assert sorted(found) == [[0, 2, 4], [1, 3, 5]]


def test_bad_cluster_counts_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        topic_clusters(TEXTS, 0, 0)
    with pytest.raises(ValueError, match="7 clusters"):
        topic_clusters(TEXTS, 7, 0)
