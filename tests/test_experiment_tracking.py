"""`ov2 experiment tracking` end to end at a seconds-long size, on the runner it shares with jumprope."""

import json

import pytest
import torch
from safetensors.torch import load_file

from ov2.experiments import jumprope, tracking
from ov2.experiments.runner import ExperimentRunner
from ov2.model.tiny import make_tiny_model
from ov2.viz.demo import page_images

pytestmark = pytest.mark.slow

MICRO = dict(n_train=3, n_val=1, n_test=2, steps=2, width=128, height=96, duration=(2.0, 2.5), max_new_tokens=12,
             train_overrides={"global_batch_size": 2, "per_device_train_batch_size": 2})


def test_both_experiments_share_one_runner():
    assert issubclass(tracking.Experiment, ExperimentRunner) and issubclass(jumprope.Experiment, ExperimentRunner)
    for name in ("ov2", "ov2_many", "precompute", "train", "write_config", "run"):
        assert name not in vars(tracking.Experiment) and name not in vars(jumprope.Experiment)


def test_tracking_experiment_runs_end_to_end(tmp_path):
    out = tmp_path / "exp"
    doc = tracking.Experiment(out, tracking.make_plan(True, 4, MICRO), progress=False).run()
    assert [(r["arm"], r["canvases"]) for r in doc["rows"]] == [("codec", 8), ("fixed", 8), ("frames", 8)]
    for row in doc["rows"]:
        assert row["tracking_test"]["n"] == 2 and row["tracking_val"]["n"] == 1 and row["final_train_loss"] > 0
    assert doc["baseline"]["test"]["n"] == 2 and 0 < doc["baseline"]["test"]["f1"] < 100
    table = (out / "results.md").read_text()
    assert "| 8 | codec |" in table and "first-frame baseline" in table
    assert all(r["visual_reliance"]["n"] == 3 and f"| {r['arm']}_8_s4 | 3 |" in table for r in doc["rows"])
    commands = (out / "commands.sh").read_text().splitlines()
    assert sum(c.startswith("ov2 eval tracking") for c in commands) == 6
    assert any(c.startswith("ov2 data manifest") and "--task tracking" in c for c in commands)
    assert "base: experiment_tracking" in (out / "configs" / "codec_8_s4.yaml").read_text()
    assert all("--targets 1 3 --distractors 2 3" in c for c in commands if c.startswith("ov2 data tracking"))
    vision = json.loads((out / "runs" / "codec_8_s4" / "final" / "config.json").read_text())["vision_config"]
    assert vision["use_patch_position_encoding"] is True  # the preset's tiny_patch_positions reached the model
    # Only the language model trained: the vision side is still the seed's random initialisation.
    init = make_tiny_model(seed=4, patch_positions=True)[0].state_dict()
    trained = load_file(out / "runs" / "codec_8_s4" / "final" / "model.safetensors")
    assert all(torch.equal(t, init[k]) for k, t in trained.items() if ".visual." in k)
    assert not all(torch.equal(t, init[k]) for k, t in trained.items() if ".language_model." in k)
    # index.html: every arm's frame strips of the test clips, clip by clip, and the metrics with the baseline.
    page = (out / "index.html").read_text()
    strips = [f"eval/tracking_test_{arm}_8_s4_figures/{i:02d}_tracking_s4003_{i:04d}.png"
              for i in range(2) for arm in ("codec", "fixed", "frames")]
    assert page_images(page) == strips and all((out / p).is_file() for p in strips)
    assert "first-frame baseline test F1" in page and "codec_8_s4 test HOTA" in page
    before = {p: p.stat().st_mtime for p in (out / "runs").rglob("model.safetensors")}
    tracking.Experiment(out, tracking.make_plan(True, 4, MICRO), progress=False).run()
    assert before == {p: p.stat().st_mtime for p in (out / "runs").rglob("model.safetensors")}
