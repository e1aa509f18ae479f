"""Mixture sampling: per-sample draws over named sources by weight, deterministic and resumable.

The recipe mixes about 50 % codec-stream video, 37.5 % uniformly sampled video and 12.5 %
images, per sample and by weight: there is no per-batch quota, so a batch's make-up varies
and only the long-run shares match the weights.

One global sequence of items ``(source, index)`` is drawn per ``(seed, epoch)``. Position ``p``
picks its source from a uniform draw of block ``p // BLOCK`` (blocks are seeded independently,
so any stretch of the sequence is computed without drawing the ones before it), and the k-th
pick of a source in the epoch is ``perm[k % size]`` of that source's shuffle number
``k // size``: a source is walked through without repeats before any sample repeats.

Ranks slice the same global sequence: optimiser step ``s`` with global batch ``B`` covers
positions ``[s*B, (s+1)*B)``, and rank ``r`` of ``W`` takes the contiguous ``B/W`` positions
``s*B + r*B/W ...``. So one rank with batch B and two ranks with B/2 see the same samples per
step, and a run resumed from a cursor (global samples consumed) continues the same sequence.
"""

from __future__ import annotations

import math
import os
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidOptionError

DEFAULT_WEIGHTS: dict[str, float] = {"codec": 0.5, "frames": 0.375, "images": 0.125}
BLOCK = 4096  # positions per independently seeded block of source draws
_SOURCE_SALT = 0x6F7632  # keeps the per-source shuffles apart from the source draws


@dataclass(frozen=True)
class MixtureSource:
    """A named source of ``size`` samples drawn with relative ``weight``."""

    name: str
    size: int
    weight: float


def _validated(sources: Sequence[MixtureSource]) -> list[MixtureSource]:
    if not sources:
        raise InvalidOptionError("a mixture needs at least one source")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise InvalidOptionError(f"mixture source names must be unique, got {names}")
    for s in sources:
        if not isinstance(s.name, str) or not s.name:
            raise InvalidOptionError(f"a mixture source needs a non-empty name, got {s.name!r}")
        if isinstance(s.size, bool) or not isinstance(s.size, (int, np.integer)) or s.size < 1:
            raise InvalidOptionError(f"mixture source {s.name!r} has {s.size!r} samples; it needs at least 1")
        w = s.weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            raise InvalidOptionError(f"mixture source {s.name!r}: weight must be a finite number > 0, got {w!r}")
    return list(sources)


class MixtureSampler:
    """Deterministic global sequence of ``(source name, sample index)`` items; see the module doc.

    ``sources``: :class:`MixtureSource` objects, or a mapping ``name -> (size, weight)``.
    """

    def __init__(self, sources: Sequence[MixtureSource] | Mapping[str, tuple[int, float]], seed: int = 0) -> None:
        if isinstance(sources, Mapping):
            sources = [MixtureSource(name, int(size), float(w)) for name, (size, w) in sources.items()]
        self.sources = _validated(list(sources))
        self.seed = int(seed)
        weights = np.array([s.weight for s in self.sources], dtype=np.float64)
        self.probabilities = weights / weights.sum()
        self._cdf = np.cumsum(self.probabilities)
        self._cdf[-1] = 1.0
        self._keys = [zlib.crc32(s.name.encode()) for s in self.sources]  # adding a source keeps others' shuffles
        self._block_counts: dict[int, list[np.ndarray]] = {}  # epoch -> per-block cumulative counts
        self._perms: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    def _block(self, epoch: int, block: int) -> np.ndarray:
        """Source ids of the positions of one block."""
        u = np.random.default_rng([self.seed, int(epoch), int(block)]).random(BLOCK)
        return np.searchsorted(self._cdf, u, side="right").astype(np.int64)

    def _counts_before_block(self, epoch: int, block: int) -> np.ndarray:
        """How often each source was drawn in blocks [0, block) of ``epoch``."""
        cum = self._block_counts.setdefault(epoch, [np.zeros(len(self.sources), np.int64)])
        while len(cum) <= block:
            b = len(cum) - 1
            cum.append(cum[-1] + np.bincount(self._block(epoch, b), minlength=len(self.sources)))
        return cum[block]

    def source_ids(self, epoch: int, start: int, stop: int) -> np.ndarray:
        """Source ids (positions in :attr:`sources`) of global positions ``[start, stop)``."""
        if start < 0 or stop < start:
            raise InvalidOptionError(f"need 0 <= start <= stop, got [{start}, {stop})")
        if stop == start:
            return np.zeros(0, np.int64)
        b0, b1 = start // BLOCK, (stop - 1) // BLOCK
        ids = np.concatenate([self._block(epoch, b) for b in range(b0, b1 + 1)])
        return ids[start - b0 * BLOCK: stop - b0 * BLOCK]

    def _perm(self, epoch: int, source: int, shuffle: int) -> np.ndarray:
        key = (epoch, source, shuffle)
        if key not in self._perms:
            rng = np.random.default_rng([self.seed, int(epoch), _SOURCE_SALT, self._keys[source], int(shuffle)])
            self._perms[key] = rng.permutation(self.sources[source].size)
            while len(self._perms) > 4 * len(self.sources):
                self._perms.popitem(last=False)
        return self._perms[key]

    def items(self, epoch: int, start: int, stop: int) -> list[tuple[str, int]]:
        """The items at global positions ``[start, stop)`` of ``epoch``."""
        ids = self.source_ids(epoch, start, stop)
        block = start // BLOCK
        seen = self._counts_before_block(epoch, block).copy()
        head = self._block(epoch, block)[: start - block * BLOCK] if start > block * BLOCK else np.zeros(0, int)
        seen += np.bincount(head, minlength=len(self.sources))
        out = []
        for sid in ids:
            k = int(seen[sid])
            seen[sid] += 1
            size = self.sources[sid].size
            out.append((self.sources[sid].name, int(self._perm(epoch, int(sid), k // size)[k % size])))
        return out

    def rank_items(self, epoch: int, step: int, rank: int, world_size: int, global_batch: int) -> list[tuple[str, int]]:
        """Rank ``rank``'s share of optimiser step ``step``: ``global_batch / world_size`` items."""
        per = per_rank_batch(global_batch, world_size)
        if not 0 <= rank < world_size:
            raise InvalidOptionError(f"rank {rank} is outside [0, {world_size})")
        start = step * global_batch + rank * per
        return self.items(epoch, start, start + per)

    def counts(self, epoch: int, start: int, stop: int) -> dict[str, int]:
        """How many items of each source positions ``[start, stop)`` hold (the mixture actually drawn)."""
        c = np.bincount(self.source_ids(epoch, start, stop), minlength=len(self.sources))
        return {s.name: int(n) for s, n in zip(self.sources, c)}


def per_rank_batch(global_batch: int, world_size: int) -> int:
    """``global_batch / world_size``, with a clear error when it does not divide."""
    if world_size < 1 or global_batch < 1 or global_batch % world_size:
        raise InvalidOptionError(f"the global batch ({global_batch}) must be a positive multiple of the number of "
                                 f"ranks ({world_size})")
    return global_batch // world_size


class RankSampler:
    """This rank's items for steps ``[cursor / global_batch, num_steps)``, usable as a DataLoader sampler.

    Every rank yields exactly ``global_batch / world_size`` items per step, so all ranks take the
    same number of steps. ``cursor`` is the number of global samples already consumed (a
    multiple of ``global_batch``: resume at a step boundary); ``cursor_after(steps)`` gives it.
    """

    def __init__(self, sampler: MixtureSampler, *, rank: int, world_size: int, global_batch: int, num_steps: int,
                 epoch: int = 0, cursor: int = 0) -> None:
        self.sampler, self.rank, self.world_size = sampler, int(rank), int(world_size)
        self.global_batch, self.num_steps, self.epoch = int(global_batch), int(num_steps), int(epoch)
        self.per_rank = per_rank_batch(self.global_batch, self.world_size)
        if cursor < 0 or cursor % self.global_batch:
            raise InvalidOptionError(f"cursor {cursor} is not a multiple of the global batch {self.global_batch}")
        self.cursor = int(cursor)

    @property
    def start_step(self) -> int:
        return self.cursor // self.global_batch

    def cursor_after(self, steps: int) -> int:
        """The cursor after ``steps`` optimiser steps from the start of the epoch."""
        return int(steps) * self.global_batch

    def __len__(self) -> int:
        return max(0, self.num_steps - self.start_step) * self.per_rank

    def steps(self) -> Iterator[list[tuple[str, int]]]:
        """This rank's items, one list per optimiser step."""
        for step in range(self.start_step, self.num_steps):
            yield self.sampler.rank_items(self.epoch, step, self.rank, self.world_size, self.global_batch)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for items in self.steps():
            yield from items

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.sampler.seed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if int(state.get("seed", self.sampler.seed)) != self.sampler.seed:
            raise InvalidOptionError(f"sampler state is for seed {state['seed']}, this sampler has {self.sampler.seed}")
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])


@dataclass(frozen=True)
class SourceSpec:
    """A mixture source on disk: a precomputed directory, its weight, optionally one manifest ``source``."""

    name: str
    path: str
    weight: float
    select: str | None = None


class MixtureDataset:
    """``ds[(source name, index)]`` -> :class:`~ov2.train.shards.TrainSample`, over precomputed dirs."""

    def __init__(self, specs: Sequence[SourceSpec]) -> None:
        from .shards import PrecomputedDataset

        self.specs = list(specs)
        self.datasets = {s.name: PrecomputedDataset(s.path, source=s.select) for s in self.specs}

    def sampler(self, seed: int = 0) -> MixtureSampler:
        """A :class:`MixtureSampler` over these sources' sizes and weights."""
        return MixtureSampler([MixtureSource(s.name, len(self.datasets[s.name]), s.weight) for s in self.specs], seed)

    def __getitem__(self, item: tuple[str, int]) -> Any:
        name, index = item
        return self.datasets[name][index]


def default_specs(codec_dir: str | os.PathLike[str], frames_dir: str | os.PathLike[str],
                  images_dir: str | os.PathLike[str]) -> list[SourceSpec]:
    """The recipe's mixture (:data:`DEFAULT_WEIGHTS`) over three precomputed directories."""
    dirs = {"codec": codec_dir, "frames": frames_dir, "images": images_dir}
    return [SourceSpec(name, str(dirs[name]), w) for name, w in DEFAULT_WEIGHTS.items()]
