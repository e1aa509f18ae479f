"""``ov2 experiment jumprope``: does a model trained with ov2 localise jumps better from codec input than from frames?

Everything but the video input is fixed across arms: the same tiny model and
initialisation, steps, learning rate, seed, prompts and matched budget (the same number of
canvases, so the same number of visual tokens reaches the language model). Stages, each
resumable and each run through the normal ``ov2`` commands (written to ``commands.sh`` as
they run, so anyone can re-run them):

1. **data**: seeded, disjoint train / validation / test splits of synthetic jump-rope clips
   (``ov2 data jumprope``) plus grounding clips, and training manifests;
2. **precompute**: the training split through ``codec``, ``fixed`` and ``frames`` at each budget;
3. **train**: one run per (arm, budget, seed) with ``ov2 train`` on the experiment preset;
4. **evaluate**: each checkpoint on the test split through ``ov2 eval jumpscore`` (greedy;
   mAP, AP at 0.1 / 0.2 / 0.3 s, unparsed answers), and ``ov2 eval grounding`` at one budget;
5. **report**: ``results.json``, ``results.md``, ``map_vs_budget.png``, ``jumps_test_first_clip.png`` (every
   run's predicted starts on the first test clip) and ``index.html`` (those, and each run's JumpScore
   timelines of its first test clips, drawn by ``ov2 eval jumpscore --figures``).

The validation split is used only to report a validation score next to the test score (and
by whoever tunes the preset); the test split is never used to choose anything.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..viz.figures import save_figure
from .runner import ARMS, ArmsPlan, ExperimentRunner, check_disjoint, check_plan_file, mean, quiet_flags

__all__ = ["ARMS", "PRESET", "Plan", "make_plan", "Experiment", "check_plan_file", "check_disjoint", "quiet_flags",
           "aggregate", "markdown_table", "plot_map"]

PRESET = "experiment_jumprope"


@dataclass(frozen=True, kw_only=True)
class Plan(ArmsPlan):
    """What the experiment runs (see :func:`make_plan` for the quick and full sizes)."""

    grounding_budget: int
    duration: tuple[float, float] = (25.0, 35.0)
    regime: str = "long"
    n_train: int = 400
    n_grounding_train: int = 80
    n_grounding_test: int = 16
    steps: int = 1200
    max_new_tokens: int = 384

    def split_seed(self, split: str, task: str = "jumprope") -> int:
        """Disjoint seeds per split and task (clip ids carry the seed, so splits never share a clip)."""
        return ArmsPlan.split_seed(self, split, 10 if task == "grounding" else 0)


def make_plan(quick: bool, seed: int, overrides: dict[str, Any] | None = None) -> Plan:
    """``quick``: one budget (8 canvases), 400 + 80 training clips, a width-64 model, 1200 steps of 8, 24 candidate
    frames per group for the canvas arms (~1,200-token codec samples instead of ~2,200): about 35 minutes on
    this 2-core CPU (34.9 measured, seed 0).

    Full: budgets 8/16/32, two seeds, a width-128 model with 4 language layers, 2000 steps. The canvas arms
    were still improving at 800 steps (docs/experiments.md), hence the longer schedule. A 32-canvas codec
    sample is ~4,100 tokens, so ``max_length`` is raised to 6144. On a GPU six runs go at a time (collation
    is CPU work: 18 at once on a 16-core host starved every run). One seed took 25.2 min on one H100 with 16
    cores (data 83 s, precompute 254 s, training 17.0 min, evaluation 160 s), so two take about 45."""
    if quick:
        plan = Plan(quick=True, seed=seed, budgets=(8,), seeds=(seed,), grounding_budget=8)
    else:
        import torch

        gpu = torch.cuda.is_available()
        plan = Plan(quick=False, seed=seed, budgets=(8, 16, 32), seeds=(seed, seed + 1), grounding_budget=16,
                    n_train=640, n_val=16, n_test=32, n_grounding_train=128, n_grounding_test=24, steps=2000,
                    workers=max(2, (os.cpu_count() or 2) - 2) if gpu else None, parallel=6 if gpu else 1,
                    train_overrides={"tiny_size": "128", "tiny_text_layers": 4, "max_length": 6144,
                                     "dataloader_num_workers": 2 if gpu else 0})
    return Plan(**{**asdict(plan), **(overrides or {})}) if overrides else plan


class Experiment(ExperimentRunner):
    """Runs (or resumes) the jump-rope experiment's stages in ``out`` (see :class:`ExperimentRunner`)."""

    PRESET = PRESET

    # -------------------------------------------------------------------- stages
    def data(self) -> None:
        p = self.plan
        size = ["--width", p.width, "--height", p.height, "--duration", p.duration[0], p.duration[1], *self.workers()]
        for split, n in (("train", p.n_train), ("val", p.n_val), ("test", p.n_test)):
            self.ov2("data", "jumprope", "--out", self.out / "data" / split, "--n", n,
                     "--seed", p.split_seed(split), "--regime", p.regime, *size)
        for split, n in (("train", p.n_grounding_train), ("test", p.n_grounding_test)):
            self.ov2("data", "grounding", "--out", self.out / "data" / f"grounding_{split}", "--n", n,
                     "--seed", p.split_seed(split, "grounding"), *size)
        self.ov2("data", "manifest", "--data", self.out / "data" / "train", "--data",
                 self.out / "data" / "grounding_train", "--out", self.out / "data" / "train.jsonl")
        check_disjoint([self.out / "data" / s for s in ("train", "val", "test")])

    def evaluate(self) -> None:
        p = self.plan
        commands = []
        for seed, budget, arm in p.runs():
            model = self.model_dir(arm, budget, seed)
            for split in ("test", "val"):
                commands.append(["eval", "jumpscore", "--model", model, "--data", self.out / "data" / split,
                                 "--backend", arm, "--canvases", budget, *self.tokenizer_options(arm),
                                 "--max-new-tokens", p.max_new_tokens,
                                 *(() if split == "test" else ("--figures", 0)),
                                 "--out", self.results_file("jumpscore", split, arm, budget, seed)])
            if budget == p.grounding_budget:
                commands.append(["eval", "grounding", "--model", model, "--data",
                                 self.out / "data" / "grounding_test", "--backend", arm, "--canvases", budget,
                                 *self.tokenizer_options(arm), "--max-new-tokens", 64,
                                 "--out", self.results_file("grounding", "test", arm, budget, seed)])
        self.ov2_many(commands)

    def report(self) -> dict[str, Any]:
        from ..eval.io import read_results
        from ..eval.runner import TASKS

        rows = []
        for seed, budget, arm in self.plan.runs():
            row = self.run_row(arm, budget, seed)
            for split in ("test", "val"):
                stored = read_results(self.results_file("jumpscore", split, arm, budget, seed))
                row[f"jumpscore_{split}"] = TASKS["jumpscore"].summarize(stored)
            grounding = self.results_file("grounding", "test", arm, budget, seed)
            if grounding.is_file():
                row["grounding_test"] = TASKS["grounding"].summarize(read_results(grounding))
            rows.append(row)
        doc = self.write_results(rows, markdown_table(rows, self.plan))
        plot_map(rows, self.out / "map_vs_budget.png")
        figures = [("map_vs_budget.png", "JumpScore mAP on the test split against the canvas budget")]
        compared = self.compare_timeline(self.out / "jumps_test_first_clip.png")
        if compared is not None:
            figures.append((compared.name, "the first test clip: each run's predicted cycle starts, green within "
                                           "0.1 s of a GT start, red otherwise (grey: GT starts)"))
        metrics = {f"{self.run_name(r['arm'], r['canvases'], r['seed'])} test mAP": r["jumpscore_test"]["map"]
                   for r in rows}
        self.write_report_page("jumpscore", "ov2 experiment jumprope", metrics, figures)
        return doc

    def compare_timeline(self, path: Path) -> Path | None:
        """Figure 13 across arms: the first test clip's predicted starts, one row per run (None if unanswered)."""
        from ..eval import jumpscore
        from ..eval.io import load_records, read_results
        from ..viz.perception import save_jumpscore_timeline

        clip = load_records(self.out / "data" / "test", "jumpscore.jsonl")[0]
        starts = {}
        for seed, budget, arm in self.plan.runs():
            rows = read_results(self.results_file("jumpscore", "test", arm, budget, seed))
            row = next((r for r in rows if r["id"] == clip["id"]), None)
            if row is not None:
                starts[self.run_name(arm, budget, seed)] = jumpscore.parse(str(row["response"]))
        if not starts:
            return None
        return save_jumpscore_timeline(path, starts, jumpscore.parse_ground_truth(clip["answer"]),
                                       duration=clip.get("duration"), title=f"{clip['id']} (test)")


def aggregate(rows: list[dict[str, Any]], key: str = "jumpscore_test") -> dict[tuple[str, int], dict[str, float]]:
    """Mean over seeds per (arm, budget): mAP, AP@tau, unparsed."""
    out: dict[tuple[str, int], dict[str, float]] = {}
    for arm, budget in sorted({(r["arm"], r["canvases"]) for r in rows}, key=lambda x: (x[1], ARMS.index(x[0]))):
        sel = [r[key] for r in rows if r["arm"] == arm and r["canvases"] == budget and key in r]
        entry = {"map": mean([s["map"] for s in sel]), "unparsed": mean([s["unparsed"] for s in sel]),
                 "n": sel[0]["n"] if sel else 0, "seeds": len(sel)}
        for tau in (sel[0]["ap"] if sel else {}):
            entry[f"ap@{tau}"] = mean([s["ap"][tau] for s in sel])
        out[(arm, budget)] = entry
    return out


def markdown_table(rows: list[dict[str, Any]], plan: Plan) -> str:
    test, val = aggregate(rows, "jumpscore_test"), aggregate(rows, "jumpscore_val")
    lines = [f"JumpScore on the test split ({plan.n_test} clips; mean over seeds {list(plan.seeds)}; "
             "metrics x100, greedy decoding)", "",
             "| canvases | arm | mAP | AP@0.1 | AP@0.2 | AP@0.3 | unparsed | val mAP |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for (arm, budget), e in test.items():
        aps = [e.get(f"ap@{t}", float("nan")) for t in ("0.1", "0.2", "0.3")]
        lines.append(f"| {budget} | {arm} | {e['map']:.1f} | " + " | ".join(f"{a:.1f}" for a in aps)
                     + f" | {e['unparsed']:.1f} | {val[(arm, budget)]['map']:.1f} |")
    grounding = [r for r in rows if "grounding_test" in r]
    if grounding:
        lines += ["", f"Temporal grounding on its test split at {plan.grounding_budget} canvases ({plan.n_grounding_test} "
                  "queries; mean over seeds)", "", "| arm | R1@0.3 | R1@0.5 | R1@0.7 | mIoU | unparsed |",
                  "|---|---:|---:|---:|---:|---:|"]
        for arm in plan.arms:
            sel = [r["grounding_test"] for r in grounding if r["arm"] == arm]
            rec = {m: mean([s["recall"][m] for s in sel]) for m in sel[0]["recall"]}
            lines.append(f"| {arm} | " + " | ".join(f"{rec[m]:.1f}" for m in sorted(rec, key=float))
                         + f" | {mean([s['miou'] for s in sel]):.1f} | {mean([s['unparsed'] for s in sel]):.1f} |")
    return "\n".join(lines)


def plot_map(rows: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = aggregate(rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm in ARMS:
        pts = sorted((b, e["map"]) for (a, b), e in agg.items() if a == arm)
        if pts:
            ax.plot([b for b, _ in pts], [m for _, m in pts], marker="o", label=arm)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("canvases (matched visual tokens)")
    ax.set_ylabel("JumpScore mAP (test)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
