"""Group variable-length requests into batches that fit a token budget.

Sorting by length keeps padding small; packing longest-first makes a batch that cannot fit
memory fail on the first batch rather than an hour in.
"""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(
    lengths: Sequence[int],
    budget: int,
    *,
    extra: int = 0,
    widths: Sequence[int] | None = None,
    width_budget: int | None = None,
) -> list[list[int]]:
    """Indices of `lengths` grouped into batches, longest first.

    A batch of n rows whose longest item has length L costs n * (L + extra) tokens (padding
    included; `extra` is room for generated tokens) and must stay within `budget`. With
    `widths`, n * max(width) must also stay within `width_budget` (scoring keeps
    width = continuation + 1 positions of vocabulary-sized logits per row). An item that
    exceeds a budget on its own still gets a batch of one.
    """
    if budget < 1:
        raise ValueError("budget must be >= 1")
    if widths is not None and (len(widths) != len(lengths) or width_budget is None):
        raise ValueError("widths needs one entry per length and a width_budget")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = widest = 0
    for i in order:
        width = widths[i] if widths is not None else 0
        n = len(current) + 1
        new_longest, new_widest = max(longest, lengths[i]), max(widest, width)
        fits = n * (new_longest + extra) <= budget and (
            width_budget is None or n * new_widest <= width_budget
        )
        if current and not fits:
            batches.append(current)
            current, new_longest, new_widest = [], lengths[i], width
        current.append(i)
        longest, widest = new_longest, new_widest
    if current:
        batches.append(current)
    return batches
