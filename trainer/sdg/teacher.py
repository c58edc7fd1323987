"""The teacher named by a spec, loaded only when a leaf actually needs generating.

Cache keys need the teacher's fingerprint before any weights are loaded, so that
a run with nothing to do makes zero model calls and finishes in seconds.
"""

from __future__ import annotations

from trainer.models import ChatModel, load_model, model_fingerprint


class Teacher:
    def __init__(self, spec: str, device: str | None = None, dtype: str | None = None) -> None:
        self.spec, self.device, self.dtype = spec, device, dtype
        self._model: ChatModel | None = None
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = (
                self._model.fingerprint
                if self._model is not None
                else model_fingerprint(self.spec, device=self.device, dtype=self.dtype)
            )
        return self._fingerprint

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model(self) -> ChatModel:
        if self._model is None:
            self._model = load_model(self.spec, device=self.device, dtype=self.dtype)
        return self._model

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
