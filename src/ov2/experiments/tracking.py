"""``ov2 experiment tracking``: a tiny model trained to track objects from codec, fixed or frames input.

The same design as ``ov2 experiment jumprope`` (one shared runner, :mod:`ov2.experiments.runner`):
the same tiny model, initialisation, steps, learning rate, seed, prompts and canvas budget in every
arm; only the video input differs. Stages, each resumable and each an ``ov2`` command recorded in
``commands.sh``:

1. **data**: disjoint train / validation / test splits of ``ov2 data tracking`` clips and the training
   manifest (``ov2 data manifest``);
2. **precompute** and 3. **train**: as the jump-rope experiment, on the ``experiment_tracking`` preset;
4. **evaluate**: ``ov2 eval tracking`` on test and validation (point P/R/F1 per frame and HOTA);
5. **report**: ``results.md`` / ``results.json`` and ``index.html`` (each arm's frame strips of its first
   test clips, drawn by ``ov2 eval tracking --figures``), with the baseline that keeps every target at its
   first-frame position (a model that finds the objects but does not follow them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .runner import ArmsPlan, ExperimentRunner, check_disjoint, mean

PRESET = "experiment_tracking"


@dataclass(frozen=True, kw_only=True)
class Plan(ArmsPlan):
    """What the tracking experiment runs (see :func:`make_plan`)."""

    duration: tuple[float, float] = (6.0, 8.0)
    fps: int = 10
    answer_fps: float = 2.0
    targets: tuple[int, int] = (1, 3)
    distractors: tuple[int, int] = (2, 3)
    n_train: int = 300
    steps: int = 800
    max_new_tokens: int = 640  # byte-level tiny tokenizer: GT answers of 2-3 targets run to ~600 tokens


def make_plan(quick: bool, seed: int, overrides: dict[str, Any] | None = None) -> Plan:
    """``quick``: 8 canvases, 300 training clips of 6-8 s at 224x128 and 10 fps, the jump-rope experiment's
    width-64 model (the merger's absolute patch embeddings on; only the language model trains), 800 steps of 8.
    No arm beats the first-frame baseline at this size yet (docs/experiments.md has the runs and the
    diagnosis). Full: budgets
    8/16/32, two seeds, 600 clips, a width-128 model with 4 language layers, 1500 steps."""
    if quick:
        plan = Plan(quick=True, seed=seed, budgets=(8,), seeds=(seed,))
    else:
        plan = Plan(quick=False, seed=seed, budgets=(8, 16, 32), seeds=(seed, seed + 1), n_train=600, n_val=16,
                    n_test=32, steps=1500, train_overrides={"tiny_size": "128", "tiny_text_layers": 4,
                                                            "max_length": 6144})
    return Plan(**{**asdict(plan), **(overrides or {})}) if overrides else plan


class Experiment(ExperimentRunner):
    """Runs (or resumes) the tracking experiment's stages in ``out`` (see :class:`ExperimentRunner`)."""

    PRESET = PRESET

    def data(self) -> None:
        p = self.plan
        size = ["--width", p.width, "--height", p.height, "--duration", p.duration[0], p.duration[1],
                "--fps", p.fps, "--answer-fps", p.answer_fps, "--targets", *p.targets, "--distractors", *p.distractors,
                *self.workers()]
        for split, n in (("train", p.n_train), ("val", p.n_val), ("test", p.n_test)):
            self.ov2("data", "tracking", "--out", self.out / "data" / split, "--n", n,
                     "--seed", p.split_seed(split), *size)
        self.ov2("data", "manifest", "--data", self.out / "data" / "train", "--task", "tracking",
                 "--out", self.out / "data" / "train.jsonl")
        check_disjoint([self.out / "data" / s for s in ("train", "val", "test")], "tracking.jsonl")

    def evaluate(self) -> None:
        p = self.plan
        commands = []
        for seed, budget, arm in p.runs():
            for split in ("test", "val"):
                commands.append(["eval", "tracking", "--model", self.model_dir(arm, budget, seed),
                                 "--data", self.out / "data" / split, "--backend", arm, "--canvases", budget,
                                 *self.tokenizer_options(arm), "--max-new-tokens", p.max_new_tokens,
                                 *(() if split == "test" else ("--figures", 0)),
                                 "--out", self.results_file("tracking", split, arm, budget, seed)])
        self.ov2_many(commands)

    def baseline(self, split: str) -> dict[str, Any]:
        """The first-frame baseline's summary on ``split`` (no model: each target stays where it first is)."""
        from ..eval.io import load_records
        from ..eval.perception import first_frame_baseline
        from ..eval.runner import TASKS

        task = TASKS["tracking"]
        records = load_records(self.out / "data" / split, task.default_file)
        return task.summarize([{"response": first_frame_baseline(r), "ground_truth": task.target(r)}
                               for r in records])

    def report(self) -> dict[str, Any]:
        from ..eval.io import read_results
        from ..eval.runner import TASKS

        rows = []
        for seed, budget, arm in self.plan.runs():
            row = self.run_row(arm, budget, seed)
            for split in ("test", "val"):
                stored = read_results(self.results_file("tracking", split, arm, budget, seed))
                row[f"tracking_{split}"] = TASKS["tracking"].summarize(stored)
            rows.append(row)
        baseline = {split: self.baseline(split) for split in ("test", "val")}
        doc = self.write_results(rows, markdown_table(rows, baseline, self.plan), baseline=baseline)
        metrics: dict[str, object] = {}
        for row in rows:
            name, test = self.run_name(row["arm"], row["canvases"], row["seed"]), row["tracking_test"]
            metrics.update({f"{name} test F1": test["f1"], f"{name} test HOTA": test["hota"]})
        metrics.update({"first-frame baseline test F1": baseline["test"]["f1"],
                        "first-frame baseline test HOTA": baseline["test"]["hota"]})
        self.write_report_page("tracking", "ov2 experiment tracking", metrics)
        return doc


def markdown_table(rows: list[dict[str, Any]], baseline: dict[str, dict[str, Any]], plan: Plan) -> str:
    """Test-split table, mean over seeds per (budget, arm), with the first-frame baseline's row."""
    lines = [f"Tracking on the test split ({plan.n_test} clips; mean over seeds {list(plan.seeds)}; metrics x100, "
             "greedy decoding; point P/R/F1 per answer frame, HOTA at alpha 0.5)", "",
             "| canvases | arm | F1 | HOTA | P | R | DetA | AssA | unparsed | val F1 | val HOTA |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def cells(test: list[dict[str, Any]], val: list[dict[str, Any]]) -> str:
        keys = ("f1", "hota", "precision", "recall", "deta", "assa", "unparsed")
        vals = [mean([s[k] for s in test]) for k in keys] + [mean([s[k] for s in val]) for k in ("f1", "hota")]
        return " | ".join(f"{v:.1f}" for v in vals)

    for budget in plan.budgets:
        for arm in plan.arms:
            sel = [r for r in rows if r["arm"] == arm and r["canvases"] == budget]
            lines.append(f"| {budget} | {arm} | "
                         + cells([r["tracking_test"] for r in sel], [r["tracking_val"] for r in sel]) + " |")
    lines.append("| - | first-frame baseline | " + cells([baseline["test"]], [baseline["val"]]) + " |")
    return "\n".join(lines)
