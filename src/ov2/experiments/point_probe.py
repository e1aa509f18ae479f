"""``ov2 experiment point-probe``: can a tiny-model configuration learn to point at all? A minutes-long check.

The tracking experiment needs a model that turns "where is it" into coordinates. This probe asks the
simplest form of that question, with nothing else to learn: one disc (one of four colours, radius 14
pixels) on a plain grey 224x128 image, the question "Point to the disc." and the answer ``X Y`` on the
0-1000 scale, three digits each (the tracks format's coordinates). Every step draws fresh images, so
nothing can be memorised. The ``color`` task is the control: the same format, but the answer is the
disc's colour index (``0 0`` .. ``3 3`` times 100), which needs the image but not the disc's place.

Every ``eval_every`` steps it scores 64 fixed validation images, teacher-forced (no generation):
answer loss, accuracy of the first digit, and the hit rate (the predicted point inside the disc; a
point needs all six digits, so with teacher forcing this is approximate, and slightly optimistic).

Measured on this project's 2-core CPU (docs/experiments.md): the jump-rope / tracking tiny model learns
``color`` in ~200 steps of 16 and does not point after 2000 steps (loss stays at the digits' prior).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image

from ..errors import InvalidOptionError

TASKS = ("point", "color")
WIDTH, HEIGHT, RADIUS = 224, 128, 14
COLOURS = ((230, 40, 40), (40, 200, 40), (40, 80, 230), (230, 200, 30))
QUESTION = "Point to the disc."


@dataclass(frozen=True)
class ProbeConfig:
    """The probe's knobs; the defaults are the tracking preset's model and optimiser."""

    task: str = "point"
    steps: int = 400
    batch: int = 16
    learning_rate: float = 3e-3
    warmup: float = 0.05
    train_modules: tuple[str, ...] = ("language_model",)
    width: int = 64
    text_layers: int = 2
    patch_positions: bool = True
    seed: int = 0
    eval_every: int = 100

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InvalidOptionError(f"point-probe task must be one of {TASKS}, got {self.task!r}")
        if self.steps < 1 or self.batch < 1 or self.eval_every < 1:
            raise InvalidOptionError("point-probe steps, batch and eval_every must be >= 1")
        from ..model.tiny import TINY_WIDTHS
        from ..train.config import check_train_modules

        if self.width not in TINY_WIDTHS:
            raise InvalidOptionError(f"point-probe width must be one of {TINY_WIDTHS}, got {self.width}")
        check_train_modules(self.train_modules)


@dataclass(frozen=True)
class Disc:
    """One probe image's ground truth: centre in pixels, colour index, and its mask [H, W]."""

    cx: float
    cy: float
    colour: int
    mask: np.ndarray

    def answer(self, task: str) -> str:
        if task == "color":
            return f"{100 * self.colour:03d} {100 * self.colour:03d}"
        return f"{round(self.cx / WIDTH * 1000):03d} {round(self.cy / HEIGHT * 1000):03d}"


def draw_disc(rng: np.random.Generator) -> tuple[np.ndarray, Disc]:
    """A grey image with one disc at a uniformly random place, fully inside the frame."""
    image = np.full((HEIGHT, WIDTH, 3), 110, np.uint8)
    cx, cy = rng.uniform(RADIUS, WIDTH - RADIUS), rng.uniform(RADIUS, HEIGHT - RADIUS)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    mask = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= RADIUS**2
    colour = int(rng.integers(len(COLOURS)))
    image[mask] = COLOURS[colour]
    return image, Disc(cx, cy, colour, mask)


class PointProbe:
    """Trains a fresh tiny model on the probe task; :meth:`run` yields one score dict per evaluation."""

    def __init__(self, config: ProbeConfig) -> None:
        import torch

        from ..model.answer import user_message
        from ..model.tiny import make_tiny_model, make_tiny_processor
        from ..train.trainer import freeze_modules

        self.config = config
        torch.manual_seed(config.seed)
        self.model, tokenizer = make_tiny_model(seed=config.seed, width=config.width, text_layers=config.text_layers,
                                                patch_positions=config.patch_positions)
        self.processor = make_tiny_processor(tokenizer)
        freeze_modules(self.model, list(config.train_modules))
        self.prompt = self.processor.apply_chat_template(user_message(QUESTION, image=True), add_generation_prompt=True)
        # Every probe image has one size, so every prompt has this length and the answer starts at one column.
        blank = Image.new("RGB", (WIDTH, HEIGHT))
        self.prompt_len = self.processor(text=self.prompt, images=blank)["input_ids"].shape[1]
        self.rng = np.random.default_rng(config.seed)
        validation_rng = np.random.default_rng(10_000 + config.seed)
        self.validation = [self.batch(validation_rng, 32) for _ in range(2)]  # 64 distinct images

    def batch(self, rng: np.random.Generator, n: int) -> tuple[dict[str, Any], Any, list[Disc]]:
        """Processor inputs, labels on the answer only, and the discs of ``n`` fresh images."""
        drawn = [draw_disc(rng) for _ in range(n)]
        answers = [d.answer(self.config.task) for _, d in drawn]
        images = [Image.fromarray(im) for im, _ in drawn]
        end = self.processor.tokenizer.eos_token
        inputs = self.processor(text=[self.prompt + a + end for a in answers], images=images, padding=True)
        labels = inputs["input_ids"].clone()
        labels[:, :self.prompt_len] = -100
        return dict(inputs), labels, [d for _, d in drawn]

    def score(self) -> dict[str, float]:
        """Validation answer loss, first-digit accuracy and (teacher-forced) hit rate."""
        import torch

        self.model.eval()
        loss, first, hits, n = 0.0, 0, 0, 0
        decode = self.processor.tokenizer.decode
        with torch.no_grad():
            for inputs, labels, discs in self.validation:
                out = self.model(**inputs, labels=labels)
                loss += float(out.loss)
                predicted = out.logits[:, self.prompt_len - 1:self.prompt_len + 6].argmax(-1)
                for row, disc in zip(predicted.tolist(), discs):
                    text, want = decode(row), disc.answer(self.config.task)
                    n += 1
                    first += text[:1] == want[0]
                    hits += self.config.task == "point" and hit(text, disc)
        self.model.train()
        return {"val_loss": loss / len(self.validation), "first_digit_acc": first / n, "hit_rate": hits / n}

    def run(self) -> Iterator[dict[str, float]]:
        """Train for ``config.steps`` steps, yielding the score at step 0, every ``eval_every`` and the last."""
        import torch
        from transformers import get_cosine_schedule_with_warmup

        c = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=c.learning_rate, betas=(0.9, 0.99), weight_decay=0.0)
        schedule = get_cosine_schedule_with_warmup(optimiser, math.ceil(c.warmup * c.steps), c.steps)
        started = time.perf_counter()
        self.model.train()
        for step in range(c.steps + 1):
            if step % c.eval_every == 0 or step == c.steps:
                yield {"step": step, **self.score(), "seconds": time.perf_counter() - started}
            if step == c.steps:
                return
            inputs, labels, _ = self.batch(self.rng, c.batch)
            self.model(**inputs, labels=labels).loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()


def hit(text: str, disc: Disc) -> bool:
    """Whether ``"XXX YYY"`` (0-1000) falls inside the disc's mask; unparsable text misses."""
    try:
        x, y = int(text[0:3]), int(text[4:7])
    except ValueError:
        return False
    col = min(WIDTH - 1, int(x / 1000 * WIDTH))
    row = min(HEIGHT - 1, int(y / 1000 * HEIGHT))
    return bool(disc.mask[row, col])


def run_probe(config: ProbeConfig, out: Path | None = None, save: Path | None = None) -> list[dict[str, float]]:
    """Run the probe, printing each score line; with ``out``, also write them (and the config) as JSONL;
    with ``save``, write the trained model and processor there (an ``ov2 train --init`` checkpoint)."""
    from ..fileio import atomic_write_text

    rows = []
    probe = PointProbe(config)
    for row in probe.run():
        rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    if out is not None:
        lines = [json.dumps({"config": asdict(config)})] + [json.dumps(r) for r in rows]
        atomic_write_text(out, "\n".join(lines) + "\n")
    if save is not None:
        probe.model.save_pretrained(save)
        probe.processor.save_pretrained(save)
    return rows
