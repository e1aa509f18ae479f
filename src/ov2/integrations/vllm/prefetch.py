"""Tokenize request videos in parallel, although vLLM runs its multimodal processor on one thread.

vLLM's server processes every request's multimodal inputs on a single worker thread (it
must: its processor cache relies on that order). Codec tokenization done there would
serialise the server: eight concurrent requests would be tokenized one after another.

The video loader, though, runs per request as soon as the media is fetched, concurrently.
So the loader starts :func:`ov2.tokenize` right away on a small thread pool, with the
server's default options (checkpoint defaults + ``--mm-processor-kwargs``), which the
processor publishes here when it is built. When the processor later reaches the request, it
takes the finished (or running) result if the request's options give the same tokenizer
call, and tokenizes inline otherwise. The result is identical either way; only the timing
changes. Pending entries are bounded: the oldest is dropped past ``MAX_PENDING``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ...visual_input import VisualInput
from .options import VideoCall

MAX_PENDING = 64


class Prefetcher:
    """Futures of ``ov2.tokenize`` keyed by (video digest, tokenizer call)."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._default: VideoCall | None = None
        self._pending: OrderedDict[tuple[bytes, Any], Future[VisualInput]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # requests whose tokens came from a prefetch (for tests and the benchmark)

    def configure(self, default: VideoCall | None) -> None:
        """Set the server's default call (None turns prefetching off)."""
        with self._lock:
            self._default = default

    def start(self, data: bytes) -> None:
        """Begin tokenizing ``data`` with the default call, unless already pending or not configured."""
        with self._lock:
            call = self._default
            if call is None:
                return
            key = (_digest(data), call.tokenize_key)
            if key in self._pending:
                return
            if self._pool is None:
                # Each ov2.tokenize decodes on several threads itself; a few at once fill the cores.
                workers = self._workers or max(2, min(8, (os.cpu_count() or 2) // 2))
                self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ov2-tokenize")
            self._pending[key] = self._pool.submit(call.tokenize, data)
            while len(self._pending) > MAX_PENDING:
                _, old = self._pending.popitem(last=False)
                old.cancel()

    def take(self, data: bytes, call: VideoCall, name: str = "<bytes>") -> VisualInput:
        """The VisualInput of ``data`` under ``call``: a prefetched one if it matches, else tokenized now.

        ov2's errors (bad video, bad option) propagate from either path unchanged.
        """
        with self._lock:
            future = self._pending.pop((_digest(data), call.tokenize_key), None)
        if future is not None and not future.cancelled():
            self.hits += 1
            return future.result()
        return call.tokenize(data, name)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


PREFETCH = Prefetcher()
