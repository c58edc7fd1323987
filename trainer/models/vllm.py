"""An in-process vLLM engine (GPU runners; the optional `gpu` extra).

Prompts are rendered with our own chat-template code (the `HFTokenizer` adapter over vLLM's
tokenizer) and passed as token ids, so a conversation becomes exactly the same tokens here
as with the transformers backend; scoring uses vLLM's prompt_logprobs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer.models.base import (
    ChatModelBase,
    Conversation,
    FinishReason,
    Generation,
    GenerationParams,
    ModelError,
    TokenLogprob,
    TokenScoreRequest,
    sampling_fields,
)
from trainer.models.cache import dir_fingerprint
from trainer.models.hf_tokenizer import HFTokenizer


class VLLMChatModel(ChatModelBase):
    def __init__(
        self, model: str, *, dtype: str | None = None, seed: int = 0, **engine_args: Any
    ) -> None:
        super().__init__(f"vllm:{model}")
        try:
            import vllm
        except ImportError:
            raise ModelError(
                f"{self.name}: vLLM is not installed; on a GPU machine install "
                "the `gpu` extra (pip install 'taxonomy-bot[gpu]') or use "
                "hf:DIR / openai:URL"
            ) from None
        self._vllm = vllm
        self._model = model
        self.llm = vllm.LLM(model=model, dtype=dtype or "auto", seed=seed, **engine_args)
        self._tokenizer = HFTokenizer(self.llm.get_tokenizer(), self.name)
        local = Path(os.path.expanduser(model))
        weights = f"sha256:{dir_fingerprint(local)[:16]}" if local.is_dir() else model
        # The dtype vLLM settled on ("auto" resolves from the model config).
        config = getattr(getattr(self.llm, "llm_engine", None), "model_config", None)
        resolved = str(getattr(config, "dtype", dtype or "auto")).removeprefix("torch.")
        self._fingerprint = f"vllm:{resolved}:{weights}"

    def _generate(
        self, conversations: Sequence[Conversation], params: GenerationParams, seeds: Sequence[int]
    ) -> list[Generation]:
        prompts = [{"prompt_token_ids": self._tokenizer.encode_chat(c)} for c in conversations]
        sampling = [self._vllm.SamplingParams(**sampling_fields(params, seed)) for seed in seeds]
        outputs = self.llm.generate(prompts, sampling, use_tqdm=False)
        results = []
        for prompt, output in zip(prompts, outputs, strict=True):
            completion = output.outputs[0]
            reason: FinishReason = "length" if completion.finish_reason == "length" else "stop"
            results.append(
                Generation(
                    completion.text,
                    reason,
                    len(prompt["prompt_token_ids"]),
                    len(completion.token_ids),
                )
            )
        return results

    def score_tokens(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        for i, (ids, start) in enumerate(requests):
            if not 1 <= start <= len(ids):
                raise ValueError(f"request {i}: start {start} outside 1..{len(ids)}")
        # prompt_logprobs=1 returns, per prompt position, the actual token and the top one.
        sampling = self._vllm.SamplingParams(
            max_tokens=1, temperature=0.0, prompt_logprobs=1, detokenize=False
        )
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(ids)} for ids, _ in requests], sampling, use_tqdm=False
        )
        results = []
        for (ids, start), output in zip(requests, outputs, strict=True):
            row = []
            for position in range(start, len(ids)):
                candidates = output.prompt_logprobs[position]
                best_id, best = max(candidates.items(), key=lambda kv: kv[1].logprob)
                row.append(TokenLogprob(candidates[ids[position]].logprob, best.logprob, best_id))
            results.append(row)
        return results

    def close(self) -> None:
        self.llm = None  # vLLM frees GPU memory when the engine is collected
