"""Topic clusters of a phase's rows, for disperse-then-merge's shards.

Disperse-then-Merge (Fu et al., ACL 2024) clusters the instruction data and trains one
sub-model per cluster, so each sub-model carries one part's biases and averaging the weights
dilutes them. Here a row is the bag of its turns' content words and word pairs, hashed to a fixed
width and weighted by TF-IDF (rows of a phase share its leaves' vocabulary, so IDF is what
separates topics), and the clusters come from spherical k-means whose assignment step fills
K clusters of equal size (sizes differ by at most one): sub-models of very unequal size would
train very unequal numbers of steps, and the merge averages them with equal weight.

Written here, not taken from scikit-learn: the project does not depend on it, and neither
scipy's kmeans2 nor scikit-learn's KMeans has the equal-size constraint. 79 rows cluster in
0.08 s, 1,000 in 1 s (2-core CPU, 4 clusters, 8 starts): nothing beside a training phase.

    shards = topic_clusters(texts, k=4, seed=0)   # k lists of row indices, in input order
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

import numpy as np

from trainer.text.content import content_words

WIDTH = 1 << 12  # hashed feature columns: collisions are rare at a phase's vocabulary size
ROUNDS = 25  # k-means iterations at most; a phase's rows settle in a handful
STARTS = 8  # k-means++ starts, the best fit kept (scikit-learn's n_init does the same)


def features(texts: Sequence[str]) -> np.ndarray:
    """One L2-normalised TF-IDF row per text over hashed words and word pairs."""
    counts = np.zeros((len(texts), WIDTH))
    for i, text in enumerate(texts):
        words = content_words(text)  # "how long" or "which" would pair rows across topics
        for term in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
            digest = hashlib.blake2b(term.encode(), digest_size=4).digest()
            counts[i, int.from_bytes(digest, "little") % WIDTH] += 1
    df = (counts > 0).sum(axis=0)
    x = np.log1p(counts) * (np.log((1 + len(texts)) / (1 + df)) + 1)
    return _unit_rows(x)


def topic_clusters(texts: Sequence[str], k: int, seed: int) -> list[list[int]]:
    """K disjoint clusters of row indices covering every row once, of sizes differing by at
    most one; the same for the same texts and seed. Needs at least k texts."""
    if k < 1:
        raise ValueError("the number of clusters must be >= 1")
    if len(texts) < k:
        raise ValueError(f"{len(texts)} rows cannot make {k} clusters")
    x = features(texts)
    rng = np.random.default_rng(seed)
    best, score = np.zeros(0, dtype=int), -np.inf
    for _ in range(STARTS):  # k-means settles in a local optimum: keep the best of several
        labels, fit = _kmeans(x, k, rng)
        if fit > score + 1e-12:
            best, score = labels, fit
    return [sorted(np.flatnonzero(best == c).tolist()) for c in range(k)]


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Labels, and the fit: the summed similarity of each row to its cluster's centre."""
    centres = _seed_centres(x, k, rng)
    labels = np.full(len(x), -1)
    for _ in range(ROUNDS):
        found = _balanced_assign(x @ centres.T)
        if np.array_equal(found, labels):
            break
        labels = found
        centres = _centres(x, labels, k)
    return labels, float(np.einsum("ij,ij->", x, centres[labels]))


def _seed_centres(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++: each next centre drawn with probability growing with its distance."""
    chosen = [int(rng.integers(len(x)))]
    for _ in range(k - 1):
        distance = np.clip(1 - (x @ x[chosen].T).max(axis=1), 0, None)
        total = distance.sum()
        if total <= 0:  # every row alike: any unchosen row will do
            chosen.append(next(i for i in range(len(x)) if i not in chosen))
            continue
        chosen.append(int(rng.choice(len(x), p=distance / total)))
    return x[chosen].copy()


def _balanced_assign(similarity: np.ndarray) -> np.ndarray:
    """Each row to the most similar centre with room, (row, centre) pairs taken from the
    most similar down. Capacities: n // k each, one more for the n % k centres most rows
    prefer."""
    n, k = similarity.shape
    preferred = np.bincount(similarity.argmax(axis=1), minlength=k)
    capacity = np.full(k, n // k)
    capacity[np.argsort(-preferred, kind="stable")[: n % k]] += 1
    labels = np.full(n, -1)
    order = np.argsort(-similarity, axis=None, kind="stable")
    for flat in order:
        row, centre = divmod(int(flat), k)
        if labels[row] < 0 and capacity[centre] > 0:
            labels[row] = centre
            capacity[centre] -= 1
    return labels


def _centres(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return _unit_rows(np.stack([x[labels == c].sum(axis=0) for c in range(k)]))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out
