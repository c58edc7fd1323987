"""Deterministic sampling shared by mixing and the replay buffer.

Seeds are derived from names (seed, leaf, leaf hash, ...) rather than drawn in sequence, so
one leaf's sample never depends on which other leaves exist or in what order they come.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from the parts' string forms (stable across runs and Python versions)."""
    blob = "\0".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def rng(*parts: object) -> random.Random:
    return random.Random(derive_seed(*parts))


def fair_quotas(sizes: Mapping[str, int], total: int) -> dict[str, int]:
    """Split `total` slots evenly across keys, none getting more than its size.

    Water-filling: keys smaller than the even share keep all they have, and what they leave
    over is shared among the rest. The last few slots of an uneven split go to keys in
    sorted order, so quotas of equally large keys differ by at most one.
    """
    if total < 0:
        raise ValueError("total must be >= 0")
    quotas = dict.fromkeys(sizes, 0)
    open_keys = sorted(k for k, n in sizes.items() if n > 0)
    left = total
    while open_keys and left > 0:
        share, extra = divmod(left, len(open_keys))
        capped = [k for k in open_keys if sizes[k] - quotas[k] <= share]
        if not capped:
            for i, k in enumerate(open_keys):
                quotas[k] += share + (1 if i < extra else 0)
            break
        for k in capped:  # these fit entirely; the others share what is left next round
            left -= sizes[k] - quotas[k]
            quotas[k] = sizes[k]
        open_keys = [k for k in open_keys if k not in capped]
    return quotas


def subsample(items: Sequence[T], k: int, r: random.Random) -> list[T]:
    """k items chosen uniformly, kept in their original order."""
    if k >= len(items):
        return list(items)
    keep = sorted(r.sample(range(len(items)), k))
    return [items[i] for i in keep]


def reservoir_extend(
    reservoir: Sequence[T], seen: int, stream: Sequence[T], k: int, r: random.Random
) -> tuple[list[T], int]:
    """Algorithm R: continue a reservoir of capacity k that has seen `seen` items.

    Returns the new reservoir and seen-count. Every item of the whole stream ends up in the
    reservoir with probability k / seen, whatever batches it arrived in (exactly so when the
    reservoir came in full or holding all it had seen; a reservoir shrunk by a smaller
    quota refills first, which slightly favours the new items).
    """
    out = list(reservoir[:k])
    for item in stream:
        seen += 1
        if len(out) < k:
            out.append(item)
        else:
            j = r.randrange(seen)
            if j < k:
                out[j] = item
    return out, seen


def stratified_sample(
    pools: Mapping[str, Sequence[T]], n: int, seed: int, *, salt: Mapping[str, str] | None = None
) -> dict[str, list[T]]:
    """About n items spread evenly over the pools (fair quotas), each pool sampled uniformly.

    Each pool's draw is seeded by (seed, key, salt[key]), e.g. the leaf's hash, so changing
    one leaf's data leaves the other leaves' samples alone (their quotas permitting).
    """
    quotas = fair_quotas({k: len(v) for k, v in pools.items()}, n)
    salt = salt or {}
    return {
        k: subsample(pools[k], q, rng(seed, k, salt.get(k, ""), "sample"))
        for k, q in sorted(quotas.items())
        if q > 0
    }
