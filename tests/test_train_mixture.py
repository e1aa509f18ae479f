"""Mixture sampling: the drawn shares match the weights, per sample; determinism; rank slicing; cursor resume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ov2.errors import InvalidOptionError
from ov2.train.mixture import (
    BLOCK,
    DEFAULT_WEIGHTS,
    MixtureDataset,
    MixtureSampler,
    MixtureSource,
    RankSampler,
    SourceSpec,
)

SIZES = {"codec": 50, "frames": 40, "images": 30}


def recipe(seed: int = 0) -> MixtureSampler:
    return MixtureSampler({name: (SIZES[name], w) for name, w in DEFAULT_WEIGHTS.items()}, seed=seed)


@pytest.mark.parametrize("weights", [DEFAULT_WEIGHTS, {"codec": 2.0, "frames": 1.0, "images": 1.0}])
def test_drawn_mixture_matches_the_weights(weights: dict[str, float]) -> None:
    sampler = MixtureSampler({k: (SIZES[k], w) for k, w in weights.items()}, seed=5)
    n = 3 * BLOCK + 777  # several independently seeded blocks and a partial one
    counts = sampler.counts(0, 0, n)
    assert sum(counts.values()) == n
    total = sum(weights.values())
    for name, w in weights.items():
        p = w / total
        bound = 5 * math.sqrt(n * p * (1 - p))  # binomial: 5 sigma
        assert abs(counts[name] - n * p) < bound, (name, counts[name], n * p, bound)
    items = sampler.items(0, 0, n)
    assert {k: sum(1 for s, _ in items if s == k) for k in weights} == counts


def test_no_per_batch_quota() -> None:
    items = recipe().items(0, 0, 8 * 500)
    per_batch = np.array([sum(1 for s, _ in items[i:i + 8] if s == "codec") for i in range(0, len(items), 8)])
    # per-sample draws: a batch of 8 holds Binomial(8, 0.5) codec samples (variance 2), not always 4
    assert abs(per_batch.mean() - 4) < 0.2 and 1.5 < per_batch.var() < 2.5
    assert per_batch.min() <= 1 and per_batch.max() >= 7


def test_a_source_is_walked_through_before_repeating() -> None:
    sampler = recipe(seed=2)
    items = sampler.items(0, 0, 1000)
    for name, size in SIZES.items():
        picks = [i for s, i in items if s == name]
        assert len(picks) >= 2 * size
        assert sorted(picks[:size]) == list(range(size))  # first pass: a permutation
        assert sorted(picks[size:2 * size]) == list(range(size))  # second pass: a new permutation
        assert picks[:size] != picks[size:2 * size]


def test_deterministic_in_seed_and_epoch() -> None:
    a, b = recipe(seed=1), recipe(seed=1)
    assert a.items(0, 0, 300) == b.items(0, 0, 300)
    assert a.items(0, 0, 300) != recipe(seed=2).items(0, 0, 300)
    assert a.items(1, 0, 300) != a.items(0, 0, 300)
    assert a.items(1, 0, 300) == b.items(1, 0, 300)


@pytest.mark.parametrize("world", [2, 4])
def test_ranks_slice_the_single_rank_sequence(world: int) -> None:
    sampler, batch = recipe(seed=3), 8
    for step in (0, 1, 7, BLOCK // batch - 1, BLOCK // batch + 3):  # includes a step across a block edge
        one = sampler.rank_items(0, step, 0, 1, batch)
        split = [x for r in range(world) for x in sampler.rank_items(0, step, r, world, batch)]
        assert split == one == sampler.items(0, step * batch, (step + 1) * batch)
    samplers = [RankSampler(recipe(seed=3), rank=r, world_size=world, global_batch=batch, num_steps=12)
                for r in range(world)]
    single = list(RankSampler(recipe(seed=3), rank=0, world_size=1, global_batch=batch, num_steps=12))
    per_rank = [list(s) for s in samplers]
    assert all(len(p) == 12 * batch // world for p in per_rank)  # every rank takes the same number of steps
    rebuilt = [x for step in range(12) for p in per_rank for x in p[step * batch // world:(step + 1) * batch // world]]
    assert rebuilt == single


def test_cursor_resume_equals_uninterrupted() -> None:
    batch, steps = 96, 60  # crosses the first block edge at position 4096
    full = list(RankSampler(recipe(seed=4), rank=1, world_size=2, global_batch=batch, num_steps=steps).steps())
    first = RankSampler(recipe(seed=4), rank=1, world_size=2, global_batch=batch, num_steps=steps)
    cursor = first.cursor_after(37)
    resumed = RankSampler(recipe(seed=4), rank=1, world_size=2, global_batch=batch, num_steps=steps)  # fresh caches
    resumed.load_state_dict({"epoch": 0, "cursor": cursor, "seed": 4})
    assert list(resumed.steps()) == full[37:]
    assert len(resumed) == (steps - 37) * batch // 2
    assert recipe(seed=4).items(0, 4000, 4200) == recipe(seed=4).items(0, 0, 4200)[4000:]


def test_invalid_mixtures_are_refused() -> None:
    with pytest.raises(InvalidOptionError, match="weight must be a finite number > 0"):
        MixtureSampler({"a": (3, 0.0), "b": (3, 1.0)})
    with pytest.raises(InvalidOptionError, match="weight must be a finite number > 0"):
        MixtureSampler({"a": (3, float("nan"))})
    with pytest.raises(InvalidOptionError, match="needs at least 1"):
        MixtureSampler({"a": (0, 1.0)})
    with pytest.raises(InvalidOptionError, match="unique"):
        MixtureSampler([MixtureSource("a", 1, 1.0), MixtureSource("a", 2, 1.0)])
    with pytest.raises(InvalidOptionError, match="multiple of the number of ranks"):
        RankSampler(recipe(), rank=0, world_size=3, global_batch=8, num_steps=1)
    with pytest.raises(InvalidOptionError, match="not a multiple of the global batch"):
        RankSampler(recipe(), rank=0, world_size=2, global_batch=8, num_steps=1, cursor=4)
    with pytest.raises(InvalidOptionError, match="seed"):
        RankSampler(recipe(seed=1), rank=0, world_size=1, global_batch=8, num_steps=1).load_state_dict(
            {"epoch": 0, "cursor": 0, "seed": 2})


def test_mixture_dataset_reads_precomputed_sources(tmp_path: Path) -> None:
    from ov2.train.precompute import precompute
    from train_data import make_mixed_manifest

    manifest = make_mixed_manifest(tmp_path / "data", n_images=4)
    out = precompute(manifest, tmp_path / "pc", backend="frames", canvases=4, shard_size=4, workers=1,
                     progress=False).out
    specs = [SourceSpec("rope", str(out), 0.75, select="jumpscore"), SourceSpec("pics", str(out), 0.25,
                                                                                  select="images")]
    ds = MixtureDataset(specs)
    sampler = ds.sampler(seed=0)
    assert [(s.name, s.size) for s in sampler.sources] == [("rope", 3), ("pics", 4)]
    items = sampler.items(0, 0, 40)
    got = [ds[item] for item in items]
    assert all(s.source == ("jumpscore" if name == "rope" else "images") for (name, _), s in zip(items, got))
    assert all(s.kind == ("video" if name == "rope" else "image") for (name, _), s in zip(items, got))
    rope_ids = {s.id for (name, _), s in zip(items, got) if name == "rope"}
    assert rope_ids == {f"jumprope_short_s0_{i:04d}" for i in range(3)}
