"""The released model's card as the Hugging Face hub reads it: README.md with YAML front
matter (license, base_model, datasets, tags, the benchmark in the model-index format) above
the Markdown of bot/release/notes.py. huggingface_hub writes the front matter, so its
ModelCard and the hub parse it as their own.

The eval results come from the benchmark's report.json (taxonomy-bot/benchmark-report/v2):
per suite, the candidate's mean of the primary metric (NLL) and of each descriptive metric.
"""

from __future__ import annotations

from typing import Any

from bot.config import ReleaseConfig
from bot.release.notes import model_card

# The embedded default model (trainer/models/embedded.py) is this hub model, quantised.
EMBEDDED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
TAGS = ("taxonomy-bot", "instructlab", "lab", "synthetic-data")
METRIC_NAMES = {
    "nll": "NLL per token of the reference answer (nats, lower is better)",
    "nll_vs_placebo": "NLL change vs placebo twin",
    "mc_acc": "multiple-choice accuracy (cloze)",
    "doc_mc_acc": "document multiple-choice accuracy",
    "rouge_l": "ROUGE-L F1",
    "exact": "exact match",
    "judge": "judge rating (1-10)",
}


def base_model_id(spec: str, configured: str | None) -> str | None:
    """The base model's hub id: release.base_model_id, else known from the spec (the
    embedded model, `vllm:ORG/NAME`); None for a local folder with no id configured."""
    if configured:
        return configured
    if spec == "embedded":
        return EMBEDDED_ID
    if spec.startswith("vllm:") and "/" in spec:
        return spec.removeprefix("vllm:")
    return None


def eval_results(report: dict[str, Any]) -> list[Any]:
    """model-index entries: one per suite and metric the candidate was scored on."""
    from huggingface_hub import EvalResult

    out = []
    for suite in report["suites"]:
        name = suite["suite"]
        tests = [t for t in (suite.get("primary"), *suite.get("descriptive", [])) if t]
        for t in tests:
            if t.get("candidate") is None:
                continue
            out.append(
                EvalResult(
                    task_type="text-generation",
                    dataset_type=f"taxonomy-bot/{name}",
                    dataset_name=f"taxonomy {name} suite",
                    dataset_split="held-out" if name == "branch" else None,
                    metric_type=t["metric"],
                    metric_value=round(float(t["candidate"]), 4),
                    metric_name=METRIC_NAMES.get(t["metric"], t["metric"]),
                    verified=False,
                )
            )
    return out


def readme(manifest: dict[str, Any], report: dict[str, Any], cfg: ReleaseConfig) -> str:
    """The card: front matter, then the model card's Markdown."""
    from huggingface_hub import ModelCard, ModelCardData

    base = base_model_id(manifest["base_model"]["spec"], cfg.base_model_id)
    data = ModelCardData(
        license=cfg.license,
        base_model=base,
        datasets=list(cfg.datasets) or None,
        tags=[*TAGS, *cfg.tags],
        library_name="transformers",
        pipeline_tag="text-generation",
        model_name=f"taxonomy student {manifest['tag']}",
        eval_results=eval_results(report) or None,
    )
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{model_card(manifest)}")
    return str(card)
