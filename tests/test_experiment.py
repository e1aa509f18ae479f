"""`ov2 experiment jumprope` end to end at a seconds-long size (its numbers are not asserted)."""

import json

import pytest

from ov2.cli import main
from ov2.errors import InvalidOptionError
from ov2.experiments.jumprope import Experiment, make_plan
from ov2.viz.demo import page_images

pytestmark = pytest.mark.slow

MICRO = dict(n_train=4, n_val=1, n_test=2, n_grounding_train=2, n_grounding_test=1, steps=2, width=160, height=96,
             duration=(4.0, 5.0), regime="short", max_new_tokens=16,
             train_overrides={"global_batch_size": 2, "per_device_train_batch_size": 2})


def test_experiment_runs_end_to_end_and_resumes(tmp_path, capsys):
    out = tmp_path / "exp"
    doc = Experiment(out, make_plan(True, 3, MICRO), progress=False).run()
    assert [(r["arm"], r["canvases"], r["seed"]) for r in doc["rows"]] == [("codec", 8, 3), ("fixed", 8, 3), ("frames", 8, 3)]
    for row in doc["rows"]:
        assert row["jumpscore_test"]["n"] == 2 and row["grounding_test"]["n"] == 1 and row["final_train_loss"] > 0
        assert (out / "runs" / f"{row['arm']}_8_s3" / "final" / "model.safetensors").is_file()
    table = (out / "results.md").read_text()
    assert "| 8 | codec |" in table and "| frames |" in table
    # Every run's look gap, on the training samples that share a canvas shape (jump rope and grounding differ).
    for row in doc["rows"]:
        rel = row["visual_reliance"]
        assert rel["n"] >= 2 and rel["gap"] == rel["swapped_loss"] - rel["own_loss"]
        assert f"| {row['arm']}_8_s3 | {rel['n']} | {rel['own_loss']:.4f} |" in table
    assert (out / "map_vs_budget.png").stat().st_size > 1000
    commands = (out / "commands.sh").read_text().splitlines()
    assert any(c.startswith("ov2 train ") and "codec_8_s3.yaml" in c for c in commands)
    assert sum(c.startswith("ov2 eval jumpscore") for c in commands) == 6  # 3 arms x (test, val)
    # The canvas arms are precomputed and evaluated with the plan's candidates per group, frames without;
    # the checkpoints remember it, so a plain `ov2 eval` tokenizes new clips the same way.
    for c in commands:
        if c.startswith(("ov2 precompute", "ov2 eval")):
            assert ("--candidates-per-group 24" in c) == ("--backend frames" not in c), c
    for arm in ("codec", "fixed", "frames"):
        saved = json.loads((out / "runs" / f"{arm}_8_s3" / "final" / "processor_config.json").read_text())
        expected = None if arm == "frames" else {"candidates_per_group": 24}
        assert saved["video_processor"].get("codec_config") == expected
        rows = [json.loads(line) for line in (out / "eval" / f"jumpscore_test_{arm}_8_s3.jsonl").read_text().splitlines()]
        assert all(r["codec_config"] == (expected or {}) for r in rows)
    # The report page shows each run's test-split timelines (drawn by `ov2 eval --figures`), not val's.
    page = page_images((out / "index.html").read_text())
    assert page[:2] == ["map_vs_budget.png", "jumps_test_first_clip.png"]
    runs = [f"{arm}_8_s3" for arm in ("codec", "fixed", "frames")]
    assert sorted(page[2:]) == sorted(f"eval/jumpscore_test_{r}_figures/{i:02d}_{f.split('/')[-1]}"
                                      for r in runs for i, f in enumerate(_test_ids(out)))
    assert all((out / p).is_file() for p in page) and not list((out / "eval").glob("*_val_*_figures"))
    # A re-run finds every stage done: nothing is trained or evaluated again.
    before = {p: p.stat().st_mtime for p in (out / "runs").rglob("model.safetensors")}
    drawn = {p: p.stat().st_mtime_ns for p in (out / "eval").rglob("*.png")}
    Experiment(out, make_plan(True, 3, MICRO), progress=False).run()
    assert before == {p: p.stat().st_mtime for p in (out / "runs").rglob("model.safetensors")}
    assert drawn == {p: p.stat().st_mtime_ns for p in (out / "eval").rglob("*.png")}
    with pytest.raises(InvalidOptionError, match="another plan"):
        Experiment(out, make_plan(True, 3, {**MICRO, "steps": 3}), progress=False)
    assert json.loads((out / "results.json").read_text())["plan"]["seed"] == 3


def _test_ids(out) -> list[str]:
    return [json.loads(line)["id"] + ".png" for line in (out / "data" / "test" / "jumpscore.jsonl").read_text().splitlines()]


def test_n_seeds_sets_the_trained_seeds(tmp_path, monkeypatch):
    import ov2.experiments.jumprope as jumprope

    plans = []

    def record_plan(self):  # stands in for the hour-long run: the test is about the plan the CLI builds
        plans.append(self.plan)
        (self.out / "results.md").write_text("")
        return {"total_s": 0}

    monkeypatch.setattr(jumprope.Experiment, "run", record_plan)
    assert main(["experiment", "jumprope", "--out", str(tmp_path / "a"), "--seed", "5", "--n-seeds", "3"]) == 0
    assert plans[-1].seeds == (5, 6, 7) and plans[-1].budgets == (8, 16, 32)
    assert main(["experiment", "jumprope", "--out", str(tmp_path / "b"), "--quick", "--seed", "2"]) == 0
    assert plans[-1].seeds == (2,)
    assert main(["experiment", "jumprope", "--out", str(tmp_path / "c"), "--n-seeds", "0"]) != 0
    assert not (tmp_path / "c").exists()


def test_experiment_cli_help():
    with pytest.raises(SystemExit):
        main(["experiment", "jumprope", "--help"])
