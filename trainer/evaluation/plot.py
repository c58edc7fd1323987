"""deltas.png: per-leaf and per-suite deltas with their 95% intervals, one panel per metric.

Rendered from report.json's document. Each row is a leaf (or a suite, in bold) and its
delta (candidate - base) with the bootstrap interval as a horizontal error bar, coloured by
verdict; rows without an interval (too few items) show the point alone, hollow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer.evaluation.metrics import METRIC_ORDER

COLOURS = {"regressed": "#d62728", "improved": "#2ca02c", "no significant change": "#7f7f7f"}


def _short(path: str, width: int = 42) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def plot(doc: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows: list[tuple[str, bool]] = []  # (label, is a suite) top to bottom
    cells: dict[tuple[int, str], dict[str, Any]] = {}
    for suite in doc["suites"]:
        rows.append((f"{suite['name']} suite", True))
        for d in suite["metrics"]:
            cells[(len(rows) - 1, d["metric"])] = d
    for leaf in doc["leaves"]:
        tag = {"judge": " [judge]", "regression": " [regr.]"}.get(leaf["suite"], "")
        rows.append((_short(leaf["path"]) + tag, False))
        for d in leaf["metrics"]:
            cells[(len(rows) - 1, d["metric"])] = d
    metrics = [m for m in METRIC_ORDER if any(k[1] == m for k in cells)] or ["nll"]
    height = max(2.5, 0.3 * len(rows) + 1.6)
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(2.9 * len(metrics) + 3.2, height), sharey=True, squeeze=False
    )
    ys = {i: len(rows) - 1 - i for i in range(len(rows))}
    for ax, metric in zip(axes[0], metrics, strict=True):
        for (i, m), d in cells.items():
            if m != metric:
                continue
            colour = COLOURS[d["verdict"]]
            if d["ci"]:
                lo, hi = d["ci"]
                err = [[max(0.0, d["delta"] - lo)], [max(0.0, hi - d["delta"])]]
                ax.errorbar(d["delta"], ys[i], xerr=err, fmt="o", color=colour, capsize=3)
            else:
                ax.plot(d["delta"], ys[i], "o", mfc="white", color=colour)
        ax.axvline(0, color="black", linewidth=0.8)
        better = doc["metrics"][metric]["better"]
        ax.set_xlabel(f"Δ {metric}\n({better} is better)", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        for y in range(len(rows)):
            ax.axhline(y, color="#eeeeee", linewidth=0.6, zorder=0)
    first = axes[0][0]
    first.set_yticks([ys[i] for i in range(len(rows))])
    first.set_yticklabels([label for label, _ in rows], fontsize=8)
    for tick, (_, bold) in zip(first.get_yticklabels(), rows, strict=True):
        if bold:
            tick.set_fontweight("bold")
    first.set_ylim(-0.7, len(rows) - 0.3)
    handles = [
        Line2D([], [], marker="o", linestyle="", color=c, label=v) for v, c in COLOURS.items()
    ]
    handles.append(
        Line2D(
            [], [], marker="o", linestyle="", mfc="white", color="#7f7f7f", label="too few items"
        )
    )
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"{doc['base']['spec']} → {doc['candidate']['spec']}: delta [95% CI]", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    tmp.replace(out)
