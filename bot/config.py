"""The repository's bot.yaml: every knob with its default, loaded strictly.

Each section is a frozen dataclass; its fields are the keys, their annotations
the accepted types and their defaults the documented defaults. Unknown keys and
wrong types are located errors: a typo must never be silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.taxonomy.yamlload import Loaded, load
from bot.validation.problems import Problem, error
from trainer.data.config import MixConfig, ReplayConfig  # plain dataclasses: no torch here
from trainer.train.config import TrainConfig

FILE = "bot.yaml"


@dataclass(frozen=True)
class ValidateConfig:
    context_window: int = 4096  # the student's context window, in tokens
    tokenizer: str | None = None  # tokenizer.json (or a folder holding one), relative to root
    disable: tuple[str, ...] = ()
    require_version: int | None = None


@dataclass(frozen=True)
class GenerateConfig:
    teacher: str = "embedded"  # model spec: embedded | hf:DIR | openai:URL[#model] | vllm:MODEL
    samples: int = 8  # generated samples kept per leaf (seed examples are added on top)
    seed: int = 0
    temperature: float = 0.7
    max_rounds: int = 3  # over-generation rounds when filters drop too much
    overgenerate: float = 3.0  # candidates proposed per sample still needed, each round
    # Knowledge filters (docs/generate.md): judges read by P(yes), or greedy for endpoints
    # without prompt log-probs; each leaf's pass mark is a quantile of its seeds' P(yes).
    judge: Literal["logprob", "greedy"] = "logprob"
    judge_floor: float = 0.2
    judge_calibration: float = 0.25
    judge_keep_top: int = 1
    grounding: float = 0.5  # share of an answer's content words its chunk must contain
    # Knowledge rows also closed-book: a twin of each without its passage (docs/generate.md)
    closed_book: bool = False
    # Document-derived knowledge rows, closed-book (docs/generate.md); 0: none.
    fact_questions: int = 0  # document facts asked about per knowledge leaf
    questions_per_fact: int = 3  # questions written per fact, each with its answer
    rephrasings: int = 0  # entity-centred rephrasings of a chunk per knowledge leaf

    def __post_init__(self) -> None:
        if not all(0 <= x <= 1 for x in (self.judge_floor, self.judge_calibration, self.grounding)):
            raise ValueError("generate.judge_floor, judge_calibration, grounding must be in [0, 1]")
        if self.judge_keep_top < 0:
            raise ValueError("generate.judge_keep_top must be >= 0")
        if min(self.fact_questions, self.rephrasings) < 0 or self.questions_per_fact < 1:
            raise ValueError(
                "generate.fact_questions and rephrasings must be >= 0, questions_per_fact >= 1"
            )


@dataclass(frozen=True)
class EvaluateConfig:
    """The benchmark's items and statistics (docs/benchmark.md)."""

    noise_band: str | None = None  # A/A noise bands file (benchmarks/noise_floor.py), from root
    facts: int = 24  # closed-book document facts per knowledge leaf
    validation_facts: int = 12  # the next ones: the checkpoint chooser's, never reported
    teacher_items: int = 8  # items the teacher writes per skill leaf from its held-out seeds
    memorization: int = 8  # document sentences per knowledge leaf (memorization, descriptive)
    answers: bool = True  # greedy answers for the descriptive ROUGE-L and exact match
    alpha: float = 0.05  # significance level, Holm-corrected across the leaves of a suite
    max_regression: float = 0.05  # a suite's NLL may worsen by this much before a run fails

    def __post_init__(self) -> None:
        if min(self.facts, self.validation_facts, self.memorization, self.teacher_items) < 0:
            raise ValueError(
                "evaluate.facts, validation_facts, memorization and teacher_items must be >= 0"
            )
        if not 0 < self.alpha < 1:
            raise ValueError("evaluate.alpha must be between 0 and 1")


@dataclass(frozen=True)
class GithubConfig:
    """The GitHub bot. Always read from the base branch (through the API), never a PR's head."""

    bot_name: str = "taxonomy-bot"  # answers `@taxonomy-bot <command>` as well as `/<command>`
    bot_login: str = "github-actions[bot]"  # its comments' author when the token cannot say
    maintainers: tuple[str, ...] = ()  # logins or org/team slugs granted maintain on top of the API
    writers: tuple[str, ...] = ()  # logins or org/team slugs granted write on top of the API
    awaiting_label: str = "needs-ok-to-generate"  # untrusted PRs until a head SHA is approved
    approve_label: str = "ok-to-generate"  # a maintainer adding it approves the current head SHA
    validate_workflow: str = "validate.yml"
    generate_workflow: str = "generate.yml"
    benchmark_workflow: str = "benchmark.yml"
    retrain_workflow: str = "retrain.yml"
    release_workflow: str = "release.yml"
    retrain_on_push: bool = True  # a push to the default branch touching taxonomy/ retrains
    pr_runner_group: str = "taxonomy-pr-gpu"  # org runner group of the `gpu` runners (doctor)
    release_runner_group: str = "taxonomy-release"  # org runner group of `gpu-release`
    release_environment: str = "release"  # release.yml's environment: must need a reviewer
    site_url: str | None = None  # the project site (site.yml); default OWNER.github.io/REPO/

    def __post_init__(self) -> None:
        url = self.site_url
        if url is not None and (
            not url.startswith("https://") or any(c in url for c in " \t\n()<>[]`\"'")
        ):
            raise ValueError("github.site_url must be an https:// URL without spaces or brackets")


@dataclass(frozen=True)
class ReleaseConfig:
    """`bot release`: versioned releases (docs/release.md)."""

    base: str = "embedded"  # the base model spec: the first release starts from it
    continue_from_last: bool = False  # train from the last release's model (else from base)
    tag_prefix: str = "v"  # tags are <prefix>X.Y.Z
    model_store: str | None = None  # released model folders (default <work>/releases)
    max_regression: tuple[str, ...] = ()  # METRIC=X limits for the release benchmark
    general: bool = True  # the general-v1 set in the release benchmark
    author_name: str | None = None  # commit/tag identity (else GIT_AUTHOR_NAME, else the bot)
    author_email: str | None = None
    # The model card's front matter (README.md of the released model folder).
    license: str = "apache-2.0"  # the released model's license id
    base_model_id: str | None = None  # the base's hub id (default: known for embedded, vllm:)
    datasets: tuple[str, ...] = ()  # hub ids of datasets the card names (the published data)
    tags: tuple[str, ...] = ()  # tags beside taxonomy-bot's own


@dataclass(frozen=True)
class Config:
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    github: GithubConfig = field(default_factory=GithubConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mix: MixConfig = field(default_factory=MixConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    release: ReleaseConfig = field(default_factory=ReleaseConfig)


class ConfigError(Exception):
    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path, self.problems = path, problems
        super().__init__("; ".join(f"{path}:{p.line}:{p.column}: {p.message}" for p in problems))


def _accepts(annotation: Any, value: Any) -> Any:
    """The value converted to the annotated type, or raise TypeError."""
    options = (
        typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    )
    for opt in options:
        if opt is type(None) and value is None:
            return None
        origin = typing.get_origin(opt)
        if origin is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        if opt is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if opt in (int, str, bool) and type(value) is opt:
            return value
        if origin is typing.Literal and value in typing.get_args(opt):
            return value
    raise TypeError


def _section(cls: Any, name: str, data: Any, doc: Loaded) -> tuple[Any, list[Problem]]:
    if data is None:
        return cls(), []
    if not isinstance(data, dict):
        return cls(), [error("config", f"{name}: must be a mapping", *doc.where((name,)))]
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values, problems = {}, []
    for key, value in data.items():
        if key not in fields:
            problems.append(
                error(
                    "config",
                    f"unknown key {name}.{key}; known: {', '.join(sorted(fields))}",
                    *doc.where((name, key), key=True),
                )
            )
            continue
        try:
            values[key] = _accepts(hints[key], value)
        except TypeError:
            want = " or ".join(
                repr(t)
                if not isinstance(t, type) and typing.get_origin(t) is None
                else getattr(t, "__name__", str(t))
                for t in _options(hints[key])
            )
            problems.append(
                error(
                    "config", f"{name}.{key} must be {want}, not {value!r}", *doc.where((name, key))
                )
            )
    try:
        return cls(**values), problems
    except ValueError as exc:  # a section's own range checks (__post_init__)
        return cls(), [*problems, error("config", str(exc), *doc.where((name,)))]


def _options(annotation: Any) -> tuple[Any, ...]:
    """The accepted alternatives of an annotation, literals spelled out one by one."""
    out: list[Any] = []
    for opt in (
        typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    ):
        out += typing.get_args(opt) if typing.get_origin(opt) is typing.Literal else [opt]
    return tuple(out)


def load_config(root: Path, profile: Path | None = None) -> Config:
    """`root`/bot.yaml, or `profile` (relative to `root`; e.g. the GPU runners' profile that
    the CLI takes from $BOT_CONFIG). A missing bot.yaml means every default."""
    path = root / profile if profile else root / FILE
    if profile and not path.is_file():
        raise ConfigError(path, [error("config", "BOT_CONFIG names a file that does not exist")])
    if not path.exists():
        return Config()
    raw = path.read_bytes()
    if all(not line.strip() or line.lstrip().startswith(b"#") for line in raw.splitlines()):
        return Config()  # empty or comments only: every default
    doc = load(raw)
    problems = [p for p in doc.problems if p.severity.value == "error"]
    if doc.data is None or problems:
        raise ConfigError(path, problems or [error("config", "cannot read bot.yaml")])
    if not isinstance(doc.data, dict):
        raise ConfigError(path, [error("config", "bot.yaml must be a mapping of sections")])
    sections: dict[str, type] = {
        name: typing.get_type_hints(Config)[name]
        for name in (f.name for f in dataclasses.fields(Config))
    }
    out: dict[str, Any] = {}
    for name, value in doc.data.items():
        if name not in sections:
            problems.append(
                error(
                    "config",
                    f"unknown section '{name}'; known: {', '.join(sections)}",
                    *doc.where((name,), key=True),
                )
            )
            continue
        out[name], found = _section(sections[name], name, value, doc)
        problems += found
    if problems:
        raise ConfigError(path, problems)
    return Config(**out)
