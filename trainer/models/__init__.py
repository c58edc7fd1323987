"""One interface to chat models: batched generation and log-likelihood scoring.

    model = load_model("embedded")            # or hf:DIR, openai:URL#name, vllm:MODEL
    replies = model.generate(conversations, GenerationParams(max_new_tokens=128))
    scores = model.loglikelihood([(context_messages, "continuation text")])

Importing this package is cheap (no torch); backends load on demand in `load_model`.
"""

from trainer.models.base import (
    GREEDY,
    ChatModel,
    Conversation,
    FinishReason,
    Generation,
    GenerationParams,
    LoglikelihoodRequest,
    Message,
    ModelError,
    Score,
    Tokenizer,
    TokenLogprob,
)
from trainer.models.loader import load_model, local_model_dir, model_fingerprint
from trainer.models.spec import (
    EmbeddedSpec,
    HFSpec,
    ModelSpec,
    OpenAISpec,
    SpecError,
    VLLMSpec,
    parse_spec,
)

__all__ = [
    "GREEDY",
    "ChatModel",
    "Conversation",
    "EmbeddedSpec",
    "FinishReason",
    "Generation",
    "GenerationParams",
    "HFSpec",
    "LoglikelihoodRequest",
    "Message",
    "ModelError",
    "ModelSpec",
    "OpenAISpec",
    "Score",
    "SpecError",
    "TokenLogprob",
    "Tokenizer",
    "VLLMSpec",
    "load_model",
    "local_model_dir",
    "model_fingerprint",
    "parse_spec",
]
