"""taxonomy.html: every leaf in its tree, one line each: validation status, version, seed
examples, generation yield, and its gain over the base across merges (a sparkline). Each
leaf links to its own page (leaf.py) with the details and generated samples."""

from __future__ import annotations

from bot.site.context import Context, leaf_href
from bot.site.html import esc, page, sparkline
from bot.site.model import Leaf

Tree = dict[str, "Tree | Leaf"]


def render(ctx: Context) -> dict[str, str]:
    data = ctx.data
    if not data.leaves:
        body = '<p class="note">No leaves: the taxonomy folder holds no qna.yaml.</p>'
    else:
        tree: Tree = {}
        for leaf in data.leaves:
            node = tree
            *folders, name = leaf.path.split("/")
            for part in folders:
                child = node.setdefault(part, {})
                node = child if isinstance(child, dict) else {}
            node[name] = leaf
        index = {leaf: k for k, leaf in enumerate(ctx.matrix.leaves)}
        gains = {
            leaf.path: [c.gain for c in ctx.matrix.cells[index[leaf.path]]]
            for leaf in data.leaves
            if leaf.path in index
        }
        body = _intro(data.leaves) + f'<ul class="tree">{_tree(tree, gains)}</ul>'
    return {"taxonomy.html": page("Taxonomy", "", "taxonomy.html", body, data.title)}


def _intro(leaves: list[Leaf]) -> str:
    counts = {s: sum(leaf.status == s for leaf in leaves) for s in ("valid", "warnings", "invalid")}
    tags = " ".join(f'<span class="tag s-{s}">{n} {s}</span>' for s, n in counts.items())
    return (
        f"<p>{len(leaves)} leaves: {tags}. Per leaf: validation, the schema version, seed "
        "examples, generated samples kept of those proposed, and the gain over the base "
        "after each merge (NLL per token; up is better).</p>"
    )


def _tree(tree: Tree, gains: dict[str, list[float | None]]) -> str:
    parts = []
    for name, node in sorted(tree.items(), key=lambda kv: (not isinstance(kv[1], dict), kv[0])):
        if isinstance(node, dict):
            parts.append(
                f"<li><details open><summary>{esc(name)}/</summary>"
                f"<ul>{_tree(node, gains)}</ul></details></li>"
            )
        else:
            parts.append(f"<li>{line(node, gains.get(node.path, []))}</li>")
    return "".join(parts)


def line(leaf: Leaf, gains: list[float | None]) -> str:
    name = leaf.path.rsplit("/", 1)[-1]
    facts = [f'<span class="tag s-{leaf.status}">{leaf.status}</span>']
    facts.append(f"v{leaf.version}" if leaf.version else "no version")
    if leaf.seeds is not None:
        facts.append(f"{leaf.seeds} seeds")
    if leaf.gen is not None:
        facts.append(f"{leaf.gen.kept}/{leaf.gen.proposed} kept")
    else:
        facts.append('<span class="muted">not generated</span>')
    spark = sparkline(gains, "gain over the base") if any(g is not None for g in gains) else ""
    return (
        f'<a href="{esc(leaf_href(leaf.path))}">{esc(name)}</a> '
        f'<span class="muted">{leaf.kind}</span> · {" · ".join(facts)} {spark}'
    )
