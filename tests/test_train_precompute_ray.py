"""``ov2 precompute --ray local`` gives the same shards as the process pool (needs the ov2[ray] extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ov2.train.precompute import precompute
from ov2.train.shards import PrecomputedDataset
from train_data import make_mixed_manifest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ov2[ray]')")


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray instance for the module (starting Ray costs seconds)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_local_equals_process_pool(local_ray, tmp_path: Path) -> None:
    manifest = make_mixed_manifest(tmp_path / "data", n_images=4)
    params = dict(backend="fixed", canvases=4, shard_size=2, progress=False)
    pool = precompute(manifest, tmp_path / "pool", workers=2, **params)
    on_ray = precompute(manifest, tmp_path / "ray", ray="local", **params)
    assert pool.engine == "pool" and on_ray.engine == "ray"
    names = sorted(p.name for p in pool.out.glob("shard-*"))
    assert names == sorted(p.name for p in on_ray.out.glob("shard-*")) and len(names) == 2 * 6
    for name in names:
        assert (pool.out / name).read_bytes() == (on_ray.out / name).read_bytes(), name
    assert on_ray.index["counts"] == pool.index["counts"] and on_ray.index["failures"] == pool.index["failures"]
    a, b = PrecomputedDataset(pool.out), PrecomputedDataset(on_ray.out)
    assert len(a) == len(b) == 10
    for x, y in zip(a, b):  # sample by sample, decoded
        assert (x.id, x.messages, x.kinds) == (y.id, y.messages, y.kinds)
        for m, n in zip(x.media, y.media):
            if x.kinds[0] == "video":
                assert (m.canvases == n.canvases).all() and m.meta == n.meta and m.groups == n.groups
            else:
                assert (m == n).all()
    # a re-run on Ray of a finished directory does nothing
    assert precompute(manifest, tmp_path / "ray", ray="local", **params).shards_run == 0
