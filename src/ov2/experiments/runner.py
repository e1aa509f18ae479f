"""The shared experiment runner: plan file, resumable stages, ``commands.sh``, training and precompute.

An experiment (``ov2 experiment jumprope``, ``ov2 experiment tracking``) trains the same tiny model on
each video input (``codec``, ``fixed``, ``frames``) at matched canvas budgets, evaluates every
checkpoint and writes a report. What is common lives here:

* :class:`ArmsPlan` - the runs a plan implies (seed x budget x arm) and disjoint split seeds;
* :class:`ExperimentRunner` - runs ``ov2`` commands (recorded in ``OUT/commands.sh``, in this process or
  ``plan.parallel`` subprocesses), times the stages, refuses a changed plan on resume, precomputes the
  training manifest per arm and budget, trains one run per (arm, budget, seed) from the experiment's
  preset (skipping finished runs, resuming partial ones);
* :meth:`ExperimentRunner.write_report_page` - ``OUT/index.html`` with every run's test-split pictures;
* :meth:`ExperimentRunner.run_row` - a report row's common part: final training loss and whether the run
  reads its video at all (its "look gap", printed under every ``results.md`` table);
* :func:`check_plan_file`, :func:`check_disjoint`, :func:`quiet_flags`.

A subclass sets ``PRESET`` and writes ``data()``, ``evaluate()`` and ``report()``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..fileio import atomic_write_text, atomic_write_text_if_changed
from ..options import CANVAS_BACKENDS

ARMS = ("codec", "fixed", "frames")
# How each command is told to hide its progress bar.
QUIET = {("data", "jumprope"): ["--quiet"], ("data", "grounding"): ["--quiet"], ("data", "tracking"): ["--quiet"],
         ("data", "manifest"): [], ("precompute",): ["--quiet"], ("train",): ["--no-progress"],
         ("eval",): ["--no-progress"]}
SPLIT_OFFSETS = {"train": 1, "val": 2, "test": 3}


def quiet_flags(args: list[str]) -> list[str]:
    """The flags that silence the progress output of ``ov2 <args>``."""
    return QUIET.get(tuple(args[:2]), QUIET.get((args[0],), []))


@dataclass(frozen=True, kw_only=True)
class ArmsPlan:
    """The fields and methods every experiment plan shares; an experiment's ``Plan`` subclasses it (keyword-only,
    so subclasses may add fields without defaults)."""

    quick: bool
    seed: int
    budgets: tuple[int, ...]
    seeds: tuple[int, ...]
    width: int = 224
    height: int = 128
    n_val: int = 12
    n_test: int = 24
    arms: tuple[str, ...] = ARMS
    # codec / fixed: candidate frames per group, i.e. at most this many timestamp runs per group
    # (None: the tokenizer's budget-following default). See docs/experiments.md.
    candidates_per_group: int | None = 24
    workers: int | None = None  # data / precompute processes (None: each command's default)
    parallel: int = 1  # trainings / evaluations run at once (several fit one GPU)
    train_overrides: dict = field(default_factory=dict)

    def runs(self) -> list[tuple[int, int, str]]:
        """Every trained model, as (seed, budget, arm), in the order the tables list them."""
        return [(seed, budget, arm) for seed in self.seeds for budget in self.budgets for arm in self.arms]

    def split_seed(self, split: str, task_offset: int = 0) -> int:
        """Disjoint seeds per split and task (clip ids carry the seed, so splits never share a clip)."""
        return 1000 * self.seed + SPLIT_OFFSETS[split] + task_offset


class ExperimentRunner(ABC):
    """Runs (or resumes) the stages in ``out``; every ``ov2`` command it issues is appended to commands.sh."""

    PRESET = ""  # the training preset every run's config names as its base
    STAGES = ("data", "precompute", "train", "evaluate")

    def __init__(self, out: str | Path, plan: Any, progress: bool = True) -> None:
        self.out = Path(out)
        self.plan = plan
        self.progress = progress
        self.out.mkdir(parents=True, exist_ok=True)
        self.commands = self.out / "commands.sh"
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}
        check_plan_file(self.out, plan)

    # ------------------------------------------------------------------ plumbing
    def ov2(self, *argv: Any) -> int:
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
    def precompute(self) -> None:
        """The training manifest (``data/train.jsonl``) through every arm at every budget."""
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

    def model_dir(self, arm: str, budget: int, seed: int) -> Path:
        return self.out / "runs" / self.run_name(arm, budget, seed) / "final"

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

        doc = {"base": self.PRESET, "stage": f"experiment_{self.run_name(arm, budget, seed)}", "seed": seed,
               "max_steps": self.plan.steps, "data_root": str(self.out / "precomputed"),
               "sources": [{"name": "video", "path": f"{arm}_{budget}", "weight": 1.0, "backend": arm,
                            "canvases": budget}], **self.plan.train_overrides}
        path = self.out / "configs" / f"{self.run_name(arm, budget, seed)}.yaml"
        atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False))
        return path

    def run_row(self, arm: str, budget: int, seed: int) -> dict[str, Any]:
        """A report row's start: the run, its final training loss and its look gap (each report adds metrics)."""
        return {"arm": arm, "canvases": budget, "seed": seed,
                "final_train_loss": self.final_train_loss(arm, budget, seed),
                "visual_reliance": self.visual_reliance(arm, budget, seed)}

    def visual_reliance(self, arm: str, budget: int, seed: int, n: int = 16) -> dict[str, Any] | None:
        """Does the run read its video? Answer loss on its first ``n`` training samples with their own
        visual input and with another sample's (:func:`ov2.eval.reliance.visual_reliance`); None when no
        two of those samples have visual input of one shape."""
        from ..errors import InvalidOptionError
        from ..eval.reliance import visual_reliance

        run = self.out / "runs" / self.run_name(arm, budget, seed)
        trained = json.loads((run / "train_config.json").read_text())
        try:
            return visual_reliance(run / "final", self.out / "precomputed" / f"{arm}_{budget}", n=n,
                                   timestamp_decimals=trained["timestamp_decimals"],
                                   source_timestamp_decimals=trained["source_timestamp_decimals"])
        except InvalidOptionError:
            return None

    def results_file(self, task: str, split: str, arm: str, budget: int, seed: int) -> Path:
        return self.out / "eval" / f"{task}_{split}_{self.run_name(arm, budget, seed)}.jsonl"

    def final_train_loss(self, arm: str, budget: int, seed: int) -> float | None:
        log = self.out / "runs" / self.run_name(arm, budget, seed) / "train_log.jsonl"
        lines = log.read_text().splitlines() if log.is_file() else []
        return json.loads(lines[-1])["loss"] if lines else None

    def write_results(self, rows: list[dict[str, Any]], table: str, **extra: Any) -> dict[str, Any]:
        """``results.json`` (plan, rows, timings) and ``results.md`` (``table``, then every run's look gap);
        returns the json document."""
        doc = {"plan": asdict(self.plan), "rows": rows, **extra, "timings_s": self.timings,
               "total_s": round(time.perf_counter() - self.started, 1)}
        atomic_write_text(self.out / "results.json", json.dumps(doc, indent=1) + "\n")
        atomic_write_text(self.out / "results.md", table + "\n\n" + reliance_table(rows) + "\n")
        return doc

    def write_report_page(self, task: str, title: str, metrics: Mapping[str, object],
                          figures: Sequence[tuple[str, str]] = ()) -> Path:
        """``OUT/index.html``: ``figures`` (paths relative to OUT), then the pictures ``ov2 eval {task}`` drew
        of the test split for every run (``--figures``), clip by clip so the arms sit side by side, under a
        table of ``metrics``. Rewritten only when its text changes."""
        from ..eval.run_figures import figures_dir, read_figures
        from ..viz.gallery import render_gallery

        per_run = []
        for seed, budget, arm in self.plan.runs():
            folder = figures_dir(self.results_file(task, "test", arm, budget, seed))
            per_run.append([((folder / f.file).relative_to(self.out).as_posix(),
                             f"{self.run_name(arm, budget, seed)} (test): {f.caption}") for f in read_figures(folder)])
        shown = list(figures)
        for i in range(max((len(r) for r in per_run), default=0)):
            shown += [r[i] for r in per_run if i < len(r)]
        intro = (f"Runs {', '.join(self.run_name(a, b, s) for s, b, a in self.plan.runs())}; the tables are in "
                 "results.md, every command in commands.sh. The pictures are each run's first test answers.")
        page = self.out / "index.html"
        atomic_write_text_if_changed(page, render_gallery(title, shown, intro=intro, metrics=metrics))
        return page

    @abstractmethod
    def data(self) -> None:
        """Generate the experiment's data splits (each experiment writes its own)."""

    @abstractmethod
    def evaluate(self) -> None:
        """Evaluate every trained run."""

    @abstractmethod
    def report(self) -> dict[str, Any]:
        """Aggregate the evaluations into results.json / results.md and return the results."""

    def run(self) -> dict[str, Any]:
        for name in self.STAGES:
            self.stage(name, getattr(self, name))
        return self.stage("report", self.report)


def reliance_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: every run's answer loss with its own and with swapped visual input (rows' ``visual_reliance``)."""
    lines = ["Does each run read its video? Answer loss (nats per answer token) on its first 16 training samples "
             "with their own visual input and with another sample's (`ov2.eval.reliance`); a gap near 0 means "
             "the answers come from the text alone.", "",
             "| run | samples | own | swapped | gap |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        rel, name = r.get("visual_reliance"), f"{r['arm']}_{r['canvases']}_s{r['seed']}"
        lines.append(f"| {name} | " + (f"{rel['n']} | {rel['own_loss']:.4f} | {rel['swapped_loss']:.4f} | "
                                       f"{rel['gap']:+.4f} |" if rel else "0 | - | - | - |"))
    return "\n".join(lines)


def check_plan_file(out: Path, plan: Any) -> None:
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


def check_disjoint(split_dirs: list[Path], jsonl_name: str = "jumpscore.jsonl") -> None:
    """No clip may sit in two splits."""
    seen: dict[str, str] = {}
    for d in split_dirs:
        for line in (d / jsonl_name).read_text().splitlines():
            cid = json.loads(line)["id"]
            if cid in seen:
                raise RuntimeError(f"clip {cid} is in both {seen[cid]} and {d.name}")
            seen[cid] = d.name


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
