"""``ov2 precompute`` on real clips and images: contents, determinism, failures, resume, params guard, kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import ov2
from cli_helpers import run_cli
from ov2.fileio import json_default
from ov2.train.manifest import MISSING_MEDIA, read_manifest
from ov2.train.precompute import PrecomputeParamsError, precompute
from ov2.train.shards import PrecomputedDataset, iter_tar_samples, stable_meta
from train_data import make_mixed_manifest

PARAMS = dict(backend="codec", canvases=4, shard_size=3, progress=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mixed_manifest(tmp_path_factory.mktemp("train_data"), n_images=8)


@pytest.fixture(scope="module")
def serial(data: Path, tmp_path_factory: pytest.TempPathFactory):
    return precompute(data, tmp_path_factory.mktemp("pc") / "serial", workers=1, **PARAMS)


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("shard-*"))}


def test_contents_match_the_manifest_and_the_tokenizer(data: Path, serial) -> None:
    report = read_manifest(data, check_media=False)
    idx = serial.index
    # 5 clips + 8 image samples + text + broken + missing usable lines; the torn last line is skipped
    assert len(report.samples) == 16 and dict(report.skipped) == {"malformed_json": 1}
    assert idx["complete"] and idx["counts"]["samples"] == 14 and idx["counts"]["failures"] == 2
    assert idx["counts"]["by_kind"] == {"image": 8, "text": 1, "video": 5}
    assert idx["counts"]["by_source"]["images"] == {"samples": 8, "failures": 0}
    assert idx["counts"]["by_source"]["default"] == {"samples": 1, "failures": 2}
    assert idx["manifest"]["skipped"] == {"malformed_json": 1}
    fails = {f["id"]: f for f in idx["failures"]}
    assert fails["broken"]["reason"] == "undecodable" and fails["broken"]["error_type"] == "VideoFormatError"
    assert "broken.mp4" in fails["broken"]["error"]
    assert fails["missing"]["reason"] == MISSING_MEDIA and fails["missing"]["error_type"] == "VideoNotFoundError"
    assert len(idx["shards"]) == 6 and [s["first"] for s in idx["shards"]] == [0, 3, 6, 9, 12, 14]

    ds = PrecomputedDataset(serial.out)
    expected = [s for s in report.samples if s.id not in ("broken", "missing")]
    assert len(ds) == 14 and ds.ids() == [s.id for s in expected]
    streamed = list(ds)
    for i, (want, got) in enumerate(zip(expected, streamed)):
        assert got.messages == want.messages and got.source == want.source and got.kinds == want.kinds
        assert got.paths == [m.path for m in want.media]
        again = ds[i]
        assert again.id == got.id and len(again.media) == len(got.media)
        for kind, a, b, m in zip(got.kinds, got.media, again.media, want.media):
            if kind == "video":
                vi = ov2.tokenize(m.path, "codec", 4)
                for x in (a, b):
                    np.testing.assert_array_equal(x.canvases, vi.canvases)
                    for name, col in vi.tokens.as_dict().items():
                        np.testing.assert_array_equal(getattr(x.tokens, name), col)
                    assert x.groups == vi.groups
                    assert x.meta == json.loads(json.dumps(stable_meta(vi.meta), default=json_default))
                    assert x.meta["video"]["fps"] == pytest.approx(vi.meta["video"]["fps"])
                    assert x.backend == "codec" and x.patch_size == 14
                    np.testing.assert_array_equal(x.positions, vi.positions)
            else:
                pixels = cv2.imread(m.path)[..., ::-1]
                np.testing.assert_array_equal(a, pixels)
                np.testing.assert_array_equal(b, pixels)
                assert a.dtype == np.uint8 and a.shape == (112, 112, 3)
    assert streamed[0].tokenize["backend"] == "codec" and streamed[0].tokenize["canvases"] == 4
    assert ds[-1].id == expected[-1].id
    with pytest.raises(IndexError):
        ds[14]
    two = [s for s in streamed if len(s.media) == 2]
    assert len(two) == 1 and two[0].kinds == ["image", "image"]


def test_shards_are_plain_tars_in_webdataset_layout(serial) -> None:
    tar = serial.out / "shard-000000.tar"
    with tarfile.open(tar) as tf:
        names = tf.getnames()
        assert all(m.mtime == 0 and m.uid == 0 for m in tf.getmembers())
    assert names == ["000000000.json", "000000000.m0.npz", "000000001.json", "000000001.m0.npz",
                     "000000002.json", "000000002.m0.npz"]
    keys = [k for k, _ in iter_tar_samples(tar)]
    assert keys == ["000000000", "000000001", "000000002"]


def test_the_webdataset_library_streams_the_shards(serial) -> None:
    wds = pytest.importorskip("webdataset")
    urls = [str(serial.out / s["name"]) for s in serial.index["shards"]]
    got = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    assert [json.loads(s["json"])["id"] for s in got] == PrecomputedDataset(serial.out).ids()
    assert sum(1 for s in got for k in s if k.endswith(".png")) == 9


def test_process_pool_equals_serial_byte_for_byte(data: Path, serial, tmp_path: Path) -> None:
    pool = precompute(data, tmp_path / "pool", workers=2, **PARAMS)
    assert pool.engine == "pool"
    assert shard_bytes(pool.out) == shard_bytes(serial.out)


def test_resume_redoes_only_missing_shards(data: Path, serial, tmp_path: Path) -> None:
    out = tmp_path / "resume"
    shutil.copytree(serial.out, out)
    (out / "shard-000001.json").unlink()  # committed tar, but no table: not complete
    (out / "shard-000004.json").unlink()
    (out / "shard-000004.tar").unlink()
    (out / ".shard-000002.tar.x.part").write_bytes(b"half")  # a killed run's temp file
    res = precompute(data, out, workers=1, **PARAMS)
    assert res.shards_run == 2 and res.samples_run == 6
    assert shard_bytes(out) == shard_bytes(serial.out)
    assert not list(out.glob(".*.part"))
    again = precompute(data, out, workers=1, **PARAMS)
    assert again.shards_run == 0 and again.samples_run == 0
    ids = PrecomputedDataset(out).ids()
    assert len(ids) == len(set(ids)) == 14


def test_retry_failed_picks_up_a_fixed_file(data: Path, serial, tmp_path: Path) -> None:
    root = tmp_path / "copy"  # the manifest's paths are relative: a copied folder is the same dataset
    shutil.copytree(data.parent, root)
    manifest = root / data.name
    out = tmp_path / "out"
    shutil.copytree(serial.out, out)
    shutil.copy(next(root.glob("clips_data/clips/*.mp4")), root / "missing.mp4")
    plain = precompute(manifest, out, workers=1, **PARAMS)
    assert plain.shards_run == 0  # failures are results: a plain re-run keeps them
    res = precompute(manifest, out, workers=1, retry_failed=True, **PARAMS)
    assert res.shards_run == 2  # the two shards with a failure (broken: shard 4, missing: shard 5)
    assert [f["id"] for f in res.index["failures"]] == ["broken"]
    assert PrecomputedDataset(out).ids()[-1] == "missing" and res.index["counts"]["samples"] == 15


def test_other_parameters_are_refused_before_any_work(data: Path, serial, tmp_path: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in serial.out.iterdir()}
    with pytest.raises(PrecomputeParamsError, match=r"tokenize\.backend: existing 'codec', requested 'frames'"):
        precompute(data, serial.out, **{**PARAMS, "backend": "frames"})
    with pytest.raises(PrecomputeParamsError, match=r"shard_size: existing 3, requested 4"):
        precompute(data, serial.out, **{**PARAMS, "shard_size": 4})
    with pytest.raises(PrecomputeParamsError, match=r"tokenize\.max_pixels"):
        precompute(data, serial.out, **PARAMS, max_pixels=50000)
    changed = tmp_path / "m.jsonl"
    changed.write_text(data.read_text() + "\n{}\n")
    with pytest.raises(PrecomputeParamsError, match=r"manifest content"):
        precompute(changed, serial.out, **PARAMS)
    assert {p.name: p.stat().st_mtime_ns for p in serial.out.iterdir()} == before
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(PrecomputeParamsError, match="not an ov2 precompute output"):
        precompute(data, tmp_path / "foreign", **PARAMS)


def test_cli_summary_and_errors(data: Path, serial, tmp_path: Path) -> None:
    code, out, err = run_cli(["precompute", str(data), "--out", str(tmp_path / "cli"), "--backend", "codec",
                              "--canvases", "4", "--shard-size", "3", "--workers", "1", "--quiet"])
    assert code == 0, err
    assert "16 usable, skipped 1 (malformed_json=1)" in out and "14 written" in out and "2 failed" in out
    assert "failure    line" in out and "complete" in out
    assert shard_bytes(tmp_path / "cli") == shard_bytes(serial.out)
    code, out, err = run_cli(["precompute", str(data), "--out", str(tmp_path / "cli"), "--backend", "frames",
                              "--canvases", "4", "--shard-size", "3", "--quiet"])
    assert code == 2 and "other parameters" in err and err.count("\n") == 1
    code, _, err = run_cli(["precompute", str(data), "--out", str(tmp_path / "x"), "--canvases", "6", "--quiet"])
    assert code == 2 and "multiple of images_per_group" in err


def _run_and_kill(cmd: list[str], out: Path, tables_before: int, more: int) -> None:
    """Start precompute in its own process group; SIGKILL the group once ``more`` new shards are committed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("shard-*.json"))) < tables_before + more or not (out / "index.json").exists():
            assert proc.poll() is None, "precompute finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_loses_and_duplicates_nothing(data: Path, tmp_path: Path) -> None:
    # 32 samples (the clips repeated under new ids), one per shard: each shard takes tens of milliseconds
    lines = [json.loads(x) for x in data.read_text().splitlines()[:5]]
    rows = []
    for rep in range(8):
        for rec in lines[:4]:
            rec = dict(rec, id=f"{rec['id']}_{rep}")
            rec["video"] = str((data.parent / rec["video"]).resolve())
            rows.append(json.dumps(rec))
    manifest = tmp_path / "many.jsonl"
    manifest.write_text("\n".join(rows) + "\n")
    args = ["--backend", "codec", "--canvases", "4", "--shard-size", "1", "--quiet"]
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ov2.cli", "precompute", str(manifest), "--out", str(out), *args]
    _run_and_kill(cmd + ["--workers", "2"], out, 0, 3)
    first = len(list(out.glob("shard-*.json")))
    assert 3 <= first < 32
    # what a reader sees now: only committed shards, every sample whole
    ds = PrecomputedDataset(out)
    assert not ds.complete and 0 < len(ds) <= first
    listed = [int(s["name"][6:12]) for s in ds.index["shards"]]  # shard k holds row k (one sample per shard)
    assert [s.id for s in ds] == [json.loads(rows[k])["id"] for k in listed]
    _run_and_kill(cmd + ["--workers", "1"], out, first, 3)  # killed again while resuming
    assert len(list(out.glob("shard-*.json"))) >= first + 3
    done = subprocess.run(cmd + ["--workers", "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    reference = precompute(manifest, tmp_path / "clean", backend="codec", canvases=4, shard_size=1, workers=1,
                           progress=False)
    assert shard_bytes(out) == shard_bytes(reference.out)
    assert not list(out.glob(".*.part"))
    ids = PrecomputedDataset(out).ids()
    assert ids == [json.loads(r)["id"] for r in rows]
    index = json.loads((out / "index.json").read_text())
    assert index["complete"] and index["counts"]["samples"] == 32
