"""The accuracy matrix over merges: one cell per (merge, leaf) of the primary metric.

A cell holds the leaf's gain over the base model after that merge (NLL per token, base
minus model: above zero the model is better than the base) and its change against the
model it replaced (the report's verdict). A leaf is *forgotten* in a merge that did not
train it when that merge regressed it against the previous model (the report's verdict:
significant and beyond the noise band) or, where the report has no verdict against a
previous model, when its gain fell from the previous merge's by more than its noise band
(FORGET nats when none was measured).

The summary generalises the continual-learning metrics of trainer/evaluation/continual.py
(Lopez-Paz & Ranzato 2017; Chaudhry et al. 2018) to merges that train several leaves and
leaves whose merge is not known: a leaf's own merge is the first that trained it (else the
first that evaluated it).

- ACC: mean gain after the last merge;
- BWT: mean over leaves learnt earlier of (gain now - gain after their own merge);
- forgetting: mean over those of (best gain since their own merge, before the last - gain now);
- plasticity: mean gain of a leaf right after its own merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.site.model import Group, Merge

FORGET = 0.05  # nats per token: the default evaluate.max_regression
GENERAL = "general"


@dataclass(frozen=True)
class Cell:
    gain: float | None = None  # vs base: base NLL - model NLL (higher is better)
    delta: float | None = None  # vs the previous model: candidate - reference NLL
    verdict: str | None = None  # the report's verdict for this leaf
    own: bool = False  # this merge trained the leaf
    forgot: bool = False
    note: str = ""  # why there is no value ("not evaluated", "older format")


@dataclass
class Matrix:
    leaves: list[str]
    merges: list[Merge]
    cells: list[list[Cell]] = field(default_factory=list)  # [leaf][merge]
    summary: dict[str, float] = field(default_factory=dict)
    general: frozenset[str] = frozenset()  # rows that are the general set, not leaves

    def row(self, leaf: str) -> list[Cell]:
        return self.cells[self.leaves.index(leaf)]


def _gain(group: Group, compared_with: str) -> float | None:
    if group.vs_base is not None and group.vs_base.delta is not None:
        return -group.vs_base.delta
    if compared_with == "base" and group.primary is not None and group.primary.delta is not None:
        return -group.primary.delta
    return None


def _band(group: Group) -> float:
    band = group.primary.band if group.primary else None
    return max(abs(band[0]), abs(band[1])) if band else FORGET


def _groups(merge: Merge) -> dict[str, Group]:
    ev = merge.evaluation
    if ev is None:
        return {}
    found: dict[str, Group] = {}
    for g in ev.leaves:  # a leaf in both suites: its branch entry wins
        if g.path not in found or g.suite == "branch":
            found[g.path] = g
    return found


def _trained(merge: Merge) -> set[str]:
    if merge.trained:
        return set(merge.trained)
    ev = merge.evaluation
    if ev is None:
        return set()
    branch = {g.path for g in ev.leaves if g.suite == "branch" and g.kind != GENERAL}
    everything = {g.path for g in ev.leaves if g.kind != GENERAL}
    return branch if branch != everything else set()  # an all-leaves report says nothing


def build(merges: list[Merge], leaves: list[str]) -> Matrix:
    """Rows: `leaves` (taxonomy order), then leaves only the reports know, then the general set."""
    groups = [_groups(m) for m in merges]
    known = list(dict.fromkeys(leaves))
    extra = sorted({p for gs in groups for p, g in gs.items() if g.kind != GENERAL} - set(known))
    general = sorted({p for gs in groups for p, g in gs.items() if g.kind == GENERAL})
    matrix = Matrix(known + extra + general, merges, general=frozenset(general))
    trained = [_trained(m) for m in merges]
    for leaf in matrix.leaves:
        matrix.cells.append(_row(leaf, merges, groups, trained))
    matrix.summary = summary(matrix)
    return matrix


def _row(
    leaf: str, merges: list[Merge], groups: list[dict[str, Group]], trained: list[set[str]]
) -> list[Cell]:
    row: list[Cell] = []
    last: float | None = None  # the gain after the previous merge that evaluated the leaf
    for i, merge in enumerate(merges):
        g = groups[i].get(leaf)
        if g is None:
            row.append(Cell(note=merge.note or "not evaluated", own=leaf in trained[i]))
            continue
        ev = merge.evaluation
        gain = _gain(g, ev.compared_with if ev else "base")
        own = leaf in trained[i]
        delta = g.primary.delta if g.primary and ev and ev.compared_with == "previous" else None
        compared = ev is not None and ev.compared_with == "previous" and g.verdict is not None
        dropped = last is not None and gain is not None and last - gain > _band(g)
        forgot = not own and (g.verdict == "regressed" if compared else dropped)
        row.append(Cell(gain, delta, g.verdict, own, forgot))
        last = gain if gain is not None else last
    return row


def _own(row: list[Cell]) -> int | None:
    """The merge a leaf was learnt in: the first that trained it, else the first with a value."""
    for i, c in enumerate(row):
        if c.own and c.gain is not None:
            return i
    return next((i for i, c in enumerate(row) if c.gain is not None), None)


def summary(m: Matrix) -> dict[str, float]:
    last = next((i for i in range(len(m.merges) - 1, -1, -1) if m.merges[i].evaluation), None)
    if last is None:
        return {}
    now, plastic, bwt, forgetting = [], [], [], []
    # Where the reports say which leaves each merge trained, a leaf no merge trained (or the
    # general set) has no merge of its own: it counts in none of the four.
    told = any(c.own for row in m.cells for c in row)
    for leaf, row in zip(m.leaves, m.cells, strict=True):
        own = _own(row)
        if own is None or leaf in m.general or (told and not any(c.own for c in row)):
            continue
        plastic.append(row[own].gain or 0.0)
        final = row[last].gain
        if final is None:
            continue
        now.append(final)
        if own < last:
            bwt.append(final - (row[own].gain or 0.0))
            earlier = [c.gain for c in row[own:last] if c.gain is not None]
            forgetting.append(max(earlier) - final)
    out = {"ACC": _mean(now), "plasticity": _mean(plastic)}
    if bwt:
        out |= {"BWT": _mean(bwt), "forgetting": _mean(forgetting)}
    return {k: v for k, v in out.items() if v == v}  # drop NaN (no values)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
