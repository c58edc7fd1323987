"""deltas.png: each leaf's change in the primary metric with its 95% interval, beside the
noise band of two trainings of the same data, coloured by verdict; a second panel for
knowledge beyond form (the placebo difference in differences) when there is one.

Rendered from report.json's document. Rows without an interval show the point alone, hollow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {
    "regressed": "#d62728",
    "improved": "#2ca02c",
    "no significant change": "#7f7f7f",
    "too few items": "#bbbbbb",
}
PANELS = (("primary", "Δ NLL per token\n(candidate - reference; lower is better)"),
          ("placebo", "Δ true - Δ placebo twin\n(lower: facts learnt)"))  # fmt: skip


def _short(path: str, width: int = 42) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def _rows(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    rows = [(f"{s['suite']} suite", s, True) for s in doc["suites"] if s.get("primary")]
    for g in doc["leaves"]:
        if g["suite"] in ("branch", "regression") and g.get("primary"):
            tag = " [earlier]" if g["suite"] == "regression" else ""
            rows.append((_short(g["path"]) + tag, g, False))
    return rows


def _panel(ax: Any, rows: list[tuple[str, dict[str, Any], bool]], key: str, label: str) -> None:
    n = len(rows)
    for i, (_, group, _) in enumerate(rows):
        d = group.get(key)
        if not d:
            continue
        y, colour = n - 1 - i, COLOURS[d["verdict"]]
        if d.get("noise_band"):
            lo, hi = d["noise_band"]
            ax.fill_betweenx([y - 0.35, y + 0.35], lo, hi, color="#9ecae1", alpha=0.5, lw=0)
        if d["ci"]:
            lo, hi = d["ci"]
            err = [[max(0.0, d["delta"] - lo)], [max(0.0, hi - d["delta"])]]
            ax.errorbar(d["delta"], y, xerr=err, fmt="o", color=colour, capsize=3)
        else:
            ax.plot(d["delta"], y, "o", mfc="white", color=colour)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(label, fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def plot(doc: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = _rows(doc) or [("(no leaf with a primary metric)", {}, False)]
    panels = [(k, t) for k, t in PANELS if any(g.get(k) for _, g, _ in rows)] or [PANELS[0]]
    height = max(2.5, 0.3 * len(rows) + 1.8)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels) + 3.4, height), sharey=True, squeeze=False
    )
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        _panel(ax, rows, key, label)
    first = axes[0][0]
    first.set_yticks(range(len(rows)))
    first.set_yticklabels([label for label, _, _ in reversed(rows)], fontsize=8)
    for tick, (_, _, bold) in zip(first.get_yticklabels(), reversed(rows), strict=True):
        if bold:
            tick.set_fontweight("bold")
    first.set_ylim(-0.7, len(rows) - 0.3)
    handles: list[Any] = [
        Line2D([], [], marker="o", linestyle="", color=c, label=v) for v, c in COLOURS.items()
    ]
    handles.append(Patch(color="#9ecae1", alpha=0.5, label="noise band (A/A)"))
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False)
    ref = doc["previous"] or doc["base"]
    fig.suptitle(f"{ref['spec']} → {doc['candidate']['spec']}: Δ [95% CI]", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    tmp.replace(out)
