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
5. **report**: ``results.json``, ``results.md`` and ``map_vs_budget.png``.

The validation split is used only to report a validation score next to the test score (and
by whoever tunes the preset); the test split is never used to choose anything.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_text
from ..options import CANVAS_BACKENDS
from ..viz.figures import save_figure

ARMS = ("codec", "fixed", "frames")
PRESET = "experiment_jumprope"
# How each command is told to hide its progress bar.
QUIET = {("data", "jumprope"): ["--quiet"], ("data", "grounding"): ["--quiet"], ("data", "manifest"): [],
         ("precompute",): ["--quiet"], ("train",): ["--no-progress"], ("eval",): ["--no-progress"]}


def quiet_flags(args: list[str]) -> list[str]:
    """The flags that silence the progress output of ``ov2 <args>``."""
    return QUIET.get(tuple(args[:2]), QUIET.get((args[0],), []))


@dataclass(frozen=True)
class Plan:
    """What the experiment runs (see :func:`make_plan` for the quick and full sizes)."""

    quick: bool
    seed: int
    budgets: tuple[int, ...]
    seeds: tuple[int, ...]
    grounding_budget: int
    width: int = 224
    height: int = 128
    duration: tuple[float, float] = (25.0, 35.0)
    regime: str = "long"
    n_train: int = 400
    n_val: int = 12
    n_test: int = 24
    n_grounding_train: int = 80
    n_grounding_test: int = 16
    steps: int = 1200
    arms: tuple[str, ...] = ARMS
    max_new_tokens: int = 384
    # codec / fixed: candidate frames per group, i.e. at most this many timestamp runs per group
    # (None: the tokenizer's budget-following default). See docs/experiments.md.
    candidates_per_group: int | None = 24
    workers: int | None = None  # data / precompute processes (None: each command's default)
    parallel: int = 1  # trainings / evaluations run at once (several fit one GPU)
    train_overrides: dict = field(default_factory=dict)

    def runs(self) -> list[tuple[int, int, str]]:
        """Every trained model, as (seed, budget, arm), in the order the tables list them."""
        return [(seed, budget, arm) for seed in self.seeds for budget in self.budgets for arm in self.arms]

    def split_seed(self, split: str, task: str = "jumprope") -> int:
        """Disjoint seeds per split and task (clip ids carry the seed, so splits never share a clip)."""
        offset = {"train": 1, "val": 2, "test": 3}[split] + (10 if task == "grounding" else 0)
        return 1000 * self.seed + offset


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


class Experiment:
    """Runs (or resumes) the stages in ``out``; every ``ov2`` command it issues is appended to commands.sh."""

    def __init__(self, out: str | Path, plan: Plan, progress: bool = True) -> None:
        self.out = Path(out)
        self.plan = plan
        self.progress = progress
        self.out.mkdir(parents=True, exist_ok=True)
        self.commands = self.out / "commands.sh"
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}
        check_plan_file(self.out, plan)

    # ------------------------------------------------------------------ plumbing
    def ov2(self, *argv: str) -> int:
        """Run one ``ov2`` command in this process, after recording it in commands.sh."""
        from ..cli import main

        args = [str(a) for a in argv]
        if not self.progress:
            args += quiet_flags(args)
        with open(self.commands, "a", encoding="utf-8") as fh:
            fh.write("ov2 " + shlex.join(args) + "\n")
        code = main(args)
        if code:
            raise RuntimeError(f"`ov2 {shlex.join(args)}` failed with exit code {code}")
        return code

    def ov2_many(self, commands: list[list[Any]]) -> None:
        """Run independent ``ov2`` commands, ``plan.parallel`` at a time (subprocesses) or in order (in process)."""
        if self.plan.parallel <= 1 or len(commands) <= 1:
            for argv in commands:
                self.ov2(*argv)
            return
        with open(self.commands, "a", encoding="utf-8") as fh:
            fh.writelines("ov2 " + shlex.join([str(a) for a in argv]) + "\n" for argv in commands)

        def launch(argv: list[Any]) -> None:
            args = [str(a) for a in argv]
            args += quiet_flags(args)  # output is captured: progress bars would only fill the pipe
            done = subprocess.run([sys.executable, "-m", "ov2", *args], capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"`ov2 {shlex.join(args)}` failed:\n{done.stderr[-3000:]}")

        with ThreadPoolExecutor(self.plan.parallel) as pool:
            list(pool.map(launch, commands))

    def stage(self, name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        result = fn()
        self.timings[name] = round(time.perf_counter() - t0, 1)
        return result

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

    def precompute(self) -> None:
        for budget in self.plan.budgets:
            for arm in self.plan.arms:
                self.ov2("precompute", self.out / "data" / "train.jsonl", "--out",
                         self.out / "precomputed" / f"{arm}_{budget}", "--backend", arm, "--canvases", budget,
                         *self.tokenizer_options(arm), *self.workers())

    def tokenizer_options(self, arm: str) -> list[Any]:
        """The canvas arms' tokenizer options, the same in precompute and evaluation."""
        cpg = self.plan.candidates_per_group
        return ["--candidates-per-group", cpg] if cpg is not None and arm in CANVAS_BACKENDS else []

    def workers(self) -> list[Any]:
        return ["--workers", self.plan.workers] if self.plan.workers else []

    def run_name(self, arm: str, budget: int, seed: int) -> str:
        return f"{arm}_{budget}_s{seed}"

    def train(self) -> None:
        commands = []
        for seed, budget, arm in self.plan.runs():
            run = self.out / "runs" / self.run_name(arm, budget, seed)
            if (run / "final" / "config.json").is_file():
                continue
            config = self.write_config(arm, budget, seed)
            resume = ["--resume"] if run.exists() else []
            commands.append(["train", config, "--out", run, *resume])
        self.ov2_many(commands)

    def write_config(self, arm: str, budget: int, seed: int) -> Path:
        """The run's config: the experiment preset, this arm's source, the plan's steps and seed."""
        import yaml

        doc = {"base": PRESET, "stage": f"experiment_{self.run_name(arm, budget, seed)}", "seed": seed,
               "max_steps": self.plan.steps, "data_root": str(self.out / "precomputed"),
               "sources": [{"name": "video", "path": f"{arm}_{budget}", "weight": 1.0, "backend": arm,
                            "canvases": budget}], **self.plan.train_overrides}
        path = self.out / "configs" / f"{self.run_name(arm, budget, seed)}.yaml"
        atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False))
        return path

    def evaluate(self) -> None:
        p = self.plan
        commands = []
        for seed, budget, arm in p.runs():
            model = self.out / "runs" / self.run_name(arm, budget, seed) / "final"
            for split in ("test", "val"):
                commands.append(["eval", "jumpscore", "--model", model, "--data", self.out / "data" / split,
                                 "--backend", arm, "--canvases", budget, *self.tokenizer_options(arm),
                                 "--max-new-tokens", p.max_new_tokens,
                                 "--out", self.results_file("jumpscore", split, arm, budget, seed)])
            if budget == p.grounding_budget:
                commands.append(["eval", "grounding", "--model", model, "--data",
                                 self.out / "data" / "grounding_test", "--backend", arm, "--canvases", budget,
                                 *self.tokenizer_options(arm), "--max-new-tokens", 64,
                                 "--out", self.results_file("grounding", "test", arm, budget, seed)])
        self.ov2_many(commands)

    def results_file(self, task: str, split: str, arm: str, budget: int, seed: int) -> Path:
        return self.out / "eval" / f"{task}_{split}_{self.run_name(arm, budget, seed)}.jsonl"

    def report(self) -> dict[str, Any]:
        from ..eval.io import read_results
        from ..eval.runner import TASKS

        rows = []
        for seed, budget, arm in self.plan.runs():
            row: dict[str, Any] = {"arm": arm, "canvases": budget, "seed": seed}
            for split in ("test", "val"):
                stored = read_results(self.results_file("jumpscore", split, arm, budget, seed))
                row[f"jumpscore_{split}"] = TASKS["jumpscore"].summarize(stored)
            grounding = self.results_file("grounding", "test", arm, budget, seed)
            if grounding.is_file():
                row["grounding_test"] = TASKS["grounding"].summarize(read_results(grounding))
            log = self.out / "runs" / self.run_name(arm, budget, seed) / "train_log.jsonl"
            lines = log.read_text().splitlines() if log.is_file() else []
            row["final_train_loss"] = json.loads(lines[-1])["loss"] if lines else None
            rows.append(row)
        doc = {"plan": asdict(self.plan), "rows": rows, "timings_s": self.timings,
               "total_s": round(time.perf_counter() - self.started, 1)}
        atomic_write_text(self.out / "results.json", json.dumps(doc, indent=1) + "\n")
        atomic_write_text(self.out / "results.md", markdown_table(rows, self.plan) + "\n")
        plot_map(rows, self.out / "map_vs_budget.png")
        return doc

    def run(self) -> dict[str, Any]:
        for name in ("data", "precompute", "train", "evaluate"):
            self.stage(name, getattr(self, name))
        return self.stage("report", self.report)


def check_plan_file(out: Path, plan: Plan) -> None:
    """A re-run must use the same plan (it resumes); another plan needs another --out."""
    from ..errors import InvalidOptionError

    path = out / "plan.json"
    doc = json.loads(json.dumps(asdict(plan)))
    if path.is_file():
        old = json.loads(path.read_text())
        if old != doc:
            changed = sorted(k for k in doc if old.get(k) != doc[k])
            raise InvalidOptionError(f"{out} holds an experiment with another plan (differs in {changed}); "
                                     "use another --out or the same options")
    else:
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


def check_disjoint(split_dirs: list[Path]) -> None:
    """No clip may sit in two splits."""
    seen: dict[str, str] = {}
    for d in split_dirs:
        for line in (d / "jumpscore.jsonl").read_text().splitlines():
            cid = json.loads(line)["id"]
            if cid in seen:
                raise RuntimeError(f"clip {cid} is in both {seen[cid]} and {d.name}")
            seen[cid] = d.name


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def aggregate(rows: list[dict[str, Any]], key: str = "jumpscore_test") -> dict[tuple[str, int], dict[str, float]]:
    """Mean over seeds per (arm, budget): mAP, AP@tau, unparsed."""
    out: dict[tuple[str, int], dict[str, float]] = {}
    for arm, budget in sorted({(r["arm"], r["canvases"]) for r in rows}, key=lambda x: (x[1], ARMS.index(x[0]))):
        sel = [r[key] for r in rows if r["arm"] == arm and r["canvases"] == budget and key in r]
        entry = {"map": _mean([s["map"] for s in sel]), "unparsed": _mean([s["unparsed"] for s in sel]),
                 "n": sel[0]["n"] if sel else 0, "seeds": len(sel)}
        for tau in (sel[0]["ap"] if sel else {}):
            entry[f"ap@{tau}"] = _mean([s["ap"][tau] for s in sel])
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
            rec = {m: _mean([s["recall"][m] for s in sel]) for m in sel[0]["recall"]}
            lines.append(f"| {arm} | " + " | ".join(f"{rec[m]:.1f}" for m in sorted(rec, key=float))
                         + f" | {_mean([s['miou'] for s in sel]):.1f} | {_mean([s['unparsed'] for s in sel]):.1f} |")
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
