"""The training dataset: global position -> mixture draw -> precomputed sample.

Position ``p`` of the run is item ``p`` of the mixture's deterministic global sequence
(:class:`~ov2.train.mixture.MixtureSampler`, seeded by the config's seed). Read in order
by a sequential sampler, optimiser step ``s`` with global batch ``B`` covers positions
``[s*B, (s+1)*B)`` whatever the number of processes: accelerate hands rank ``r`` of ``W``
every ``W``-th per-device batch, so one process with ``B`` samples per step and two with
``B/2`` each see the same samples, and a resumed run skips whole batches without
reading them.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from ..errors import InvalidOptionError
from .config import SourceConfig
from .shards import tokenize_params


class MixtureTrainDataset(Dataset):
    """``len = steps x global batch``; item ``p`` is the ``p``-th mixture draw, read from its source's shards."""

    def __init__(self, sources: list[SourceConfig], length: int, seed: int = 0, epoch: int = 0) -> None:
        from .mixture import MixtureDataset, SourceSpec

        self.sources = sources
        self.mixture = MixtureDataset([SourceSpec(s.name, s.path, s.weight) for s in sources])
        self.sampler = self.mixture.sampler(seed)
        self.length = int(length)
        self.epoch = int(epoch)
        check_sources(sources, self.mixture.datasets)

    def __len__(self) -> int:
        return self.length

    def item(self, position: int) -> tuple[str, int]:
        return self.sampler.items(self.epoch, position, position + 1)[0]

    def __getitem__(self, position: int) -> Any:
        if not 0 <= position < self.length:
            raise IndexError(position)
        return self.mixture[self.item(position)]

    def counts(self, start: int, stop: int) -> dict[str, int]:
        """The mixture drawn at positions ``[start, stop)`` (source name -> samples)."""
        return self.sampler.counts(self.epoch, start, stop)


def check_sources(sources: list[SourceConfig], datasets: dict[str, Any]) -> None:
    """Each precomputed directory must hold what the config says (backend, budget) and be complete."""
    for s in sources:
        index = datasets[s.name].index
        tokenize = tokenize_params(index)
        backend = tokenize.get("backend")
        canvases = tokenize.get("canvases")
        where = f"source {s.name!r} ({s.path})"
        if s.backend is not None and backend != s.backend:
            raise InvalidOptionError(f"{where} was precomputed with backend {backend!r}, the config asks for "
                                     f"{s.backend!r}; precompute it with --backend {s.backend}")
        if s.canvases is not None and canvases != s.canvases:
            raise InvalidOptionError(f"{where} was precomputed with {canvases} canvases, the config asks for "
                                     f"{s.canvases}; precompute it with --canvases {s.canvases}")
        if not index.get("complete", False):
            raise InvalidOptionError(f"{where} is not complete (its precompute did not finish); run ov2 precompute "
                                     "again to finish it")
