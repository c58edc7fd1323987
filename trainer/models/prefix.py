"""Shared-prefix scoring: requests that begin alike are scored as one trie per row.

A multiple-choice item asks for the same context once per option, and every request of a
chat model starts with the same template (SmolLM2 adds a ~30-token default system prompt).
Scored one request per row, those shared tokens are recomputed for every request. Here the
requests are sorted by token ids and laid out as a prefix trie in depth-first order: each
node is one token, position ids are the node's depth (the token's index in its request),
and a tree-shaped attention mask lets a node attend to its ancestors and itself only. Every
node then sees exactly the tokens it would see in its own request, so each request's
log-probs equal those of scoring it alone (up to float rounding); one forward pass serves
a whole row. A request's first scored token is predicted at the last shared context node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from trainer.models.base import ModelError, TokenLogprob, TokenScoreRequest

# Trie nodes per row. Attention costs rows * width^2 whatever the mask hides, while one
# MC item (context + 4 options) is ~100-250 tokens; rows of a few items also share the
# template's system prompt between items. Measured in benchmarks/scoring_speed.py.
ROW_TOKENS = 512


@dataclass
class TrieRow:
    """One row: nodes in depth-first order and, per request scored in it, its path."""

    tokens: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)  # position id of each node
    members: list[int] = field(default_factory=list)  # request indices
    shared: list[int] = field(default_factory=list)  # tokens each member found in the trie
    paths: list[list[int]] = field(default_factory=list)  # node index of each member token
    last: Sequence[int] = ()  # ids of the member added last

    def __len__(self) -> int:
        return len(self.tokens)

    def cost(self, ids: Sequence[int]) -> int:
        """Nodes that adding `ids` would create."""
        return len(ids) - common_prefix(self.last, ids)

    def add(self, index: int, ids: Sequence[int]) -> None:
        # Members arrive sorted, so the longest prefix any member shares with the new one
        # is the one it shares with the member added last.
        shared = common_prefix(self.last, ids)
        base = self.paths[-1][:shared] if self.paths else []
        self.paths.append([*base, *range(len(self.tokens), len(self.tokens) + len(ids) - shared)])
        self.tokens.extend(ids[shared:])
        self.depths.extend(range(shared, len(ids)))
        self.members.append(index)
        self.shared.append(shared)
        self.last = ids

    def scored_nodes(self, starts: Sequence[int]) -> set[int]:
        """Nodes whose logits some member needs (`starts`: first scored index per member)."""
        return {
            node
            for path, start in zip(self.paths, starts, strict=True)
            for node in path[start - 1 : len(path) - 1]
        }


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def plan_rows(requests: Sequence[TokenScoreRequest], capacity: int | None = None) -> list[TrieRow]:
    """Requests laid out as tries of at most `capacity` (default ROW_TOKENS) nodes; a longer
    request gets a row of its own.

    Requests are taken in id order; a run that shares its whole context (the requests'
    unscored part) is kept in one row when it fits, so an MC item is split only when it
    exceeds a row by itself. Rows are filled to about total / (rows needed).
    """
    capacity = capacity or ROW_TOKENS
    order = sorted(range(len(requests)), key=lambda i: (tuple(requests[i][0]), i))
    groups: list[list[int]] = []
    for i in order:
        if groups:
            ids, start = requests[i]
            prev_ids, prev_start = requests[groups[-1][-1]]
            if common_prefix(prev_ids, ids) >= min(start, prev_start):
                groups[-1].append(i)
                continue
        groups.append([i])
    # Rows of a batch are padded to the longest: aim for equal rows, not full ones and a
    # short last one.
    total = _group_cost(TrieRow(), order, requests)
    target = -(-total // -(-total // capacity)) if total else capacity
    rows: list[TrieRow] = []
    row = TrieRow()
    for group in groups:
        if row.members and (
            len(row) >= target or len(row) + _group_cost(row, group, requests) > capacity
        ):
            rows.append(row)
            row = TrieRow()
        for i in group:
            ids = requests[i][0]
            if row.members and len(row) + row.cost(ids) > capacity:
                rows.append(row)
                row = TrieRow()
            row.add(i, ids)
    if row.members:
        rows.append(row)
    return rows


def _group_cost(row: TrieRow, group: Sequence[int], requests: Sequence[TokenScoreRequest]) -> int:
    cost, last = 0, row.last
    for i in group:
        ids = requests[i][0]
        cost += len(ids) - common_prefix(last, ids)
        last = ids
    return cost


@torch.inference_mode()
def score_rows(
    model: Any,
    rows: Sequence[TrieRow],
    requests: Sequence[TokenScoreRequest],
    *,
    pad_id: int,
) -> dict[int, list[TokenLogprob]]:
    """One forward pass over `rows`; per-token log-probs of each member request by index."""
    device, dtype = model.device, model.dtype
    width = max(len(r) for r in rows)
    n = len(rows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    positions = torch.zeros((n, width), dtype=torch.long)
    # Padding nodes attend to themselves only, so no softmax row is fully masked.
    allowed = torch.eye(width, dtype=torch.bool).repeat(n, 1, 1)
    keep = torch.zeros((n, width), dtype=torch.bool)
    causal = torch.ones((width, width), dtype=torch.bool).tril()
    for r, row in enumerate(rows):
        ids[r, : len(row)] = torch.tensor(row.tokens, dtype=torch.long)
        positions[r, : len(row)] = torch.tensor(row.depths, dtype=torch.long)
        for path, shared in zip(row.paths, row.shared, strict=True):
            if shared < len(path):  # only a member's new nodes need their mask rows
                nodes = torch.tensor(path, dtype=torch.long)
                allowed[r, nodes[shared:, None], nodes[None, :]] = causal[
                    shared : len(path), : len(path)
                ]
        starts = [requests[i][1] for i in row.members]
        keep[r, sorted(row.scored_nodes(starts))] = True
    # An additive float mask: eager attention adds it, sdpa accepts it as well.
    mask = torch.zeros((n, 1, width, width), dtype=dtype)
    mask.masked_fill_(~allowed[:, None], torch.finfo(dtype).min)
    keep = keep.to(device)
    logits = model(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        logits_to_keep=keep,  # a bool mask: logits come back flattened, (kept nodes, vocab)
    ).logits
    kept = int(keep.sum())
    if logits.ndim != 2 or logits.shape[0] != kept:
        raise ModelError(f"expected logits for {kept} positions, got shape {tuple(logits.shape)}")
    logprobs = logits.float().log_softmax(dim=-1)
    top, top_ids = logprobs.max(dim=-1)
    flat = (keep.flatten().cumsum(0) - 1).view(n, width)  # node -> row of `logprobs`
    results: dict[int, list[TokenLogprob]] = {}
    for r, row in enumerate(rows):
        for index, path in zip(row.members, row.paths, strict=True):
            token_ids, start = requests[index]
            at = flat[r, torch.tensor(path[start - 1 : len(path) - 1], device=device)]
            targets = torch.tensor(token_ids[start:], device=device)
            chosen = logprobs[at, targets]
            results[index] = [
                TokenLogprob(c, t, i)
                for c, t, i in zip(
                    chosen.tolist(), top[at].tolist(), top_ids[at].tolist(), strict=True
                )
            ]
    return results
