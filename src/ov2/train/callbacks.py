"""Trainer callbacks: the per-step JSONL log, completed-checkpoint markers, the loss-curve plot.

``train_log.jsonl`` gets one line per optimiser step: ``step``, ``loss`` (the global
token-weighted mean, as the Trainer logs it), ``lr``, ``grad_norm``, ``tokens`` (real
tokens of the step over all ranks), ``tokens_per_s`` and ``mixture`` (samples drawn per
source in the step). A resumed run first cuts the log back to the checkpoint's step.

transformers writes a checkpoint folder file by file; :class:`CheckpointMarker` writes
``ov2_complete.json`` (atomically) once a save has finished, and ``--resume`` only picks
checkpoints that carry it, so a run killed mid-save resumes from the previous one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..fileio import atomic_write_text, json_default
from ..viz.figures import save_figure

LOG_NAME = "train_log.jsonl"
MARKER = "ov2_complete.json"
PLOT_NAME = "loss_curve.png"


def read_log(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a train log (a torn last line from a kill is dropped)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


class JsonlLogCallback(TrainerCallback):
    """Writes ``train_log.jsonl`` (main process only); see the module docstring."""

    def __init__(self, out: Path, trainer: Any, dataset: Any, global_batch: int) -> None:
        self.path = out / LOG_NAME
        self.trainer = trainer
        self.dataset = dataset
        self.global_batch = global_batch
        self.step_started = time.perf_counter()
        self.last = {"tokens": 0, "seconds": 0.0}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            kept = [r for r in read_log(self.path) if r["step"] <= state.global_step]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self.step_started = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        seconds = time.perf_counter() - self.step_started
        self.last = {"tokens": self.trainer.step_tokens, "seconds": seconds}
        self.trainer.step_tokens = 0
        self.step_started = time.perf_counter()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        step = state.global_step
        row = {
            "step": step,
            "loss": logs["loss"],
            "lr": logs.get("learning_rate"),
            "grad_norm": logs.get("grad_norm"),
            "tokens": self.last["tokens"],
            "tokens_per_s": round(self.last["tokens"] / self.last["seconds"], 2) if self.last["seconds"] else None,
            "mixture": self.dataset.counts((step - 1) * self.global_batch, step * self.global_batch),
            "time": round(time.time(), 3),
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, default=json_default) + "\n")
            f.flush()


class CheckpointMarker(TrainerCallback):
    """Marks a checkpoint folder complete once transformers has written all of it (main process)."""

    def __init__(self, global_batch: int) -> None:
        self.global_batch = global_batch

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            doc = {"step": state.global_step, "data_cursor": state.global_step * self.global_batch,
                   "global_batch": self.global_batch}
            atomic_write_text(folder / MARKER, json.dumps(doc, indent=1) + "\n")


class LossCurveCallback(TrainerCallback):
    """Plots the JSONL log's loss against the step when training ends (main process)."""

    def __init__(self, out: Path, title: str) -> None:
        self.out, self.title = out, title

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            plot_loss(read_log(self.out / LOG_NAME), self.out / PLOT_NAME, self.title)


def plot_loss(rows: list[dict[str, Any]], path: Path, title: str) -> Path | None:
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1.5)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss (token-weighted mean)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def complete_checkpoints(out: Path) -> list[Path]:
    """Checkpoint folders that finished saving, oldest first."""
    found = [p for p in out.glob("checkpoint-*") if (p / MARKER).is_file() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))
