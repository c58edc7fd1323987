"""Merge concurrent requests into batched model calls, on one worker thread.

The HTTP server answers each request on its own thread; a local model is fastest when it
sees many requests at once and must not run two batches concurrently. Requests queue here;
the worker takes everything waiting, groups requests that share generation settings, and
makes one `generate` / `score_tokens` call per group.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from trainer.models.base import (
    ChatModel,
    Conversation,
    Generation,
    GenerationParams,
    TokenLogprob,
    TokenScoreRequest,
)


@dataclass
class _Job:
    key: GenerationParams | None  # None: a scoring job
    payload: Any  # (conversation, seed) or a list of TokenScoreRequest
    future: Future[Any] = field(default_factory=Future)


class MicroBatcher:
    def __init__(self, model: ChatModel, *, max_batch: int = 512) -> None:
        self.model = model
        self.max_batch = max_batch
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="microbatch", daemon=True)
        self._worker.start()

    def generate(
        self, conversation: Conversation, params: GenerationParams, seed: int
    ) -> Generation:
        job = _Job(params, (conversation, seed))
        self._queue.put(job)
        result: Generation = job.future.result()
        return result

    def score(self, requests: Sequence[TokenScoreRequest]) -> list[list[TokenLogprob]]:
        job = _Job(None, list(requests))
        self._queue.put(job)
        result: list[list[TokenLogprob]] = job.future.result()
        return result

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=60)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            jobs = [job]
            stop = False
            while len(jobs) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
            groups: dict[GenerationParams | None, list[_Job]] = {}
            for j in jobs:
                groups.setdefault(j.key, []).append(j)
            for key, group in groups.items():
                self._run_group(key, group)
            if stop:
                return

    def _run_group(self, key: GenerationParams | None, group: list[_Job]) -> None:
        try:
            if key is None:
                flat = [r for job in group for r in job.payload]
                scores = self.model.score_tokens(flat)
                offset = 0
                for job in group:
                    job.future.set_result(scores[offset : offset + len(job.payload)])
                    offset += len(job.payload)
            else:
                generations = self.model.generate(
                    [job.payload[0] for job in group], key, seeds=[job.payload[1] for job in group]
                )
                for job, generation in zip(group, generations, strict=True):
                    job.future.set_result(generation)
        except Exception as exc:
            if len(group) > 1:  # one bad request (say, too long) must not fail its batch-mates
                for job in group:
                    if not job.future.done():
                        self._run_group(key, [job])
            elif not group[0].future.done():  # raised in the request's own thread
                group[0].future.set_exception(exc)
