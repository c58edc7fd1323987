"""The release's words: the notes (stdout, the tag message, the PR comment), the model
card and the changelog entry, all rendered from the manifest and per-leaf deltas."""

from __future__ import annotations

from typing import Any

ARROW = {"improved": "🟢", "regressed": "🔴", "no significant change": "⚪"}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


def _deltas(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "not benchmarked (no held-out examples)"
    parts = ", ".join(f"{m} {_fmt(d)}" for m, d in sorted(entry["deltas"].items()))
    return f"{ARROW.get(entry['verdict'], '')} {entry['verdict']}: {parts or 'no metrics'}"


def changes(manifest: dict[str, Any], deltas: dict[str, dict[str, Any]]) -> list[str]:
    """One Markdown bullet per leaf added, changed or removed, with its benchmark deltas."""
    lines: list[str] = []
    for kind in ("added", "changed", "removed"):
        for path in manifest["changes"][kind]:
            if kind == "removed":
                lines.append(f"- **removed** `{path}`")
                continue
            short = manifest["leaves"][path][:12]
            lines.append(f"- **{kind}** `{path}` (`{short}`): {_deltas(deltas.get(path))}")
    return lines or ["- no leaf changed"]


def suites_table(bench: dict[str, Any]) -> list[str]:
    rows = ["| suite | verdict | deltas (candidate - baseline) |", "|---|---|---|"]
    for name, suite in bench["suites"].items():
        parts = ", ".join(f"{m} {_fmt(d)}" for m, d in sorted(suite["deltas"].items()))
        verdict = suite["verdict"] or "descriptive"
        rows.append(f"| {name} | {ARROW.get(verdict, '')} {verdict} | {parts} |")
    return rows


def failures(bench: dict[str, Any]) -> str:
    return ", ".join(
        f"{f['suite']} {f['metric']} {_fmt(f['delta'])} (limit {f['threshold']})"
        for f in bench["failures"]
    )


def verdict_line(bench: dict[str, Any]) -> str:
    if not bench["failed"]:
        return f"Benchmark vs `{bench['baseline']}`: ✅ passed ({bench['items']} items)."
    return (
        f"Benchmark vs `{bench['baseline']}`: ❌ **failed** ({failures(bench)}); "
        "released with --force."
    )


def release_notes(manifest: dict[str, Any], deltas: dict[str, Any], model_spec: str) -> str:
    prev = manifest["previous"]
    since = f"since {prev['tag']}" if prev else "(first release)"
    lines = [
        f"## Release {manifest['tag']}",
        "",
        f"Model `{manifest['model']['digest']}`, trained from "
        f"`{manifest['model']['started_from']}` "
        f"({manifest['model']['mode']} retrain) on {len(manifest['leaves'])} leaves at "
        f"`{manifest['taxonomy_commit'][:12]}`.",
        verdict_line(manifest["benchmark"]),
        "",
        f"### Leaves {since}",
        "",
        *changes(manifest, deltas),
        "",
        "### Benchmark",
        "",
        *suites_table(manifest["benchmark"]),
        "",
        f"Manifest: `releases/{manifest['version']}/manifest.yaml`. "
        f"To retrain from this release, set the `RELEASE_MODEL` repository variable to "
        f"`{model_spec}`.",
    ]
    return "\n".join(lines) + "\n"


def changelog_entry(manifest: dict[str, Any], deltas: dict[str, Any]) -> str:
    day = manifest["created"][:10]
    return "\n".join(
        [
            f"## {manifest['tag']} ({day})",
            "",
            *changes(manifest, deltas),
            "",
            verdict_line(manifest["benchmark"]),
            "",
        ]
    )


def prepend_changelog(current: str, entry: str) -> str:
    """The entry under the top-level CHANGELOG.md's title (written when missing)."""
    title = "# Changelog\n\n"
    body = current[len(title) :] if current.startswith(title) else current
    return title + entry + ("\n" + body if body.strip() else "")


def model_card(manifest: dict[str, Any]) -> str:
    train = manifest["training"]["train"]
    phases = manifest["datasets"]["phases"]
    data_rows = [
        f"| {name} | {p['rows']} | {p.get('new_rows', '')} | {p.get('replay_rows', '')} | "
        f"`{p['sha256'][:12]}` |"
        for name, p in phases.items()
    ]
    return "\n".join(
        [
            f"# Model card: taxonomy student {manifest['tag']}",
            "",
            "## What it is",
            "",
            f"A chat model fine-tuned on this repository's taxonomy ({len(manifest['leaves'])} "
            f"leaves at commit `{manifest['taxonomy_commit']}`). Weights are kept in the model "
            f"store, not in git: digest `{manifest['model']['digest']}`.",
            "",
            "## Base",
            "",
            f"- base model: `{manifest['base_model']['spec']}` "
            f"(`{manifest['base_model']['digest']}`)",
            f"- this release started from `{manifest['model']['started_from']}` "
            f"({manifest['model']['mode']} retrain)",
            "",
            "## Data",
            "",
            "Synthetic data generated from each leaf's seed examples (and documents), "
            "mixed per phase with replay of earlier leaves.",
            "",
            "| phase | rows | new | replay | sha256 |",
            "|---|---|---|---|---|",
            *data_rows,
            "",
            f"Replay buffer version: `{manifest['datasets']['replay_buffer_version']}`.",
            "",
            "## Training",
            "",
            f"lr {train['lr']}, batch size {train['batch_size']}, epochs {train['epochs']}, "
            f"max steps {train['max_steps']}, schedule {train['schedule']}, "
            f"LoRA {train['lora']}, seed {train['seed']}.",
            "",
            "## Benchmark",
            "",
            verdict_line(manifest["benchmark"]),
            "",
            *suites_table(manifest["benchmark"]),
            "",
            "## Limitations",
            "",
            "- Trained on synthetic data from a small teacher: answers can be wrong or invented.",
            "- Benchmarks use held-out seed examples and a small general set; they measure "
            "relative change against the previous release, not absolute quality.",
            "- Not evaluated for safety; do not use for decisions about people.",
            "",
        ]
    )
