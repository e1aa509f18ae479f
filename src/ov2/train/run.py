"""``train(config)``: build the model, data and ``Ov2Trainer`` from a config, train, export ``final/``.

The same function runs in one CPU process, under ``torchrun`` / ``accelerate launch``
(CPU gloo or GPU NCCL; DDP, FSDP2 or DeepSpeed from the accelerate config): the
distributed state comes from the environment through ``TrainingArguments``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidOptionError
from ..fileio import atomic_write_text
from ..model.varlen import resolve_lm_attention, set_lm_attention
from .callbacks import LOG_NAME, PLOT_NAME, CheckpointMarker, JsonlLogCallback, LossCurveCallback, complete_checkpoints
from .collator import Ov2DataCollator
from .config import Ov2TrainingArguments
from .trainer import Ov2Trainer, freeze_modules

FINAL = "final"


@dataclass
class TrainResult:
    out: Path
    final: Path
    steps: int
    resumed_from: Path | None
    trainable: dict[str, int]
    frozen: int
    seconds: float
    last_loss: float | None


def build_model(args: Ov2TrainingArguments) -> tuple[Any, Any]:
    """``(model, processor)``: ov2's tiny random model, or a checkpoint directory (strict load)."""
    if args.init is None:
        raise InvalidOptionError(f"config {args.stage!r} has no init checkpoint: pass --init DIR (a llava_onevision2 "
                                 "checkpoint, e.g. the previous stage's final/) or --init tiny")
    if args.init == "tiny":
        from ..model.tiny import make_tiny_model, make_tiny_processor

        model, tok = make_tiny_model(seed=args.seed, width=int(args.tiny_size), text_layers=args.tiny_text_layers,
                                     patch_positions=args.tiny_patch_positions)
        return model, make_tiny_processor(tok)
    from ..model.loading import check_checkpoint_dir
    from ..model.modeling import LlavaOnevision2ForConditionalGeneration
    from ..processing import Processor

    directory = check_checkpoint_dir(args.init)
    # fp32 master weights whatever the checkpoint's dtype (bf16 for the release): AdamW steps of lr 1e-5
    # mostly round away on bf16 weights; bf16 compute comes from autocast / FSDP / DeepSpeed mixed precision.
    model = LlavaOnevision2ForConditionalGeneration.from_pretrained(directory, dtype="float32")
    return model, Processor.from_pretrained(directory)


def check_fits(dataset: Any, collator: Ov2DataCollator) -> None:
    """Each source's first sample must fit ``max_length``: otherwise a whole source would be skipped, sample by
    sample, as overlong (e.g. a 384-canvas source precomputed at a large ``--max-pixels``)."""
    for name, source in dataset.mixture.datasets.items():
        sample = source[0]
        encoded = collator.encode(sample)
        if encoded is None and collator.skipped.counts.get("overlong"):
            raise InvalidOptionError(
                f"source {name!r}: its first sample ({sample.id}) does not fit max_length {collator.max_length} even "
                "with one question-answer round; raise max_length, or precompute with a smaller --max-pixels "
                "(docs/training.md)"
            )
    collator.skipped.counts.clear()


def resume_point(out: Path, resume: bool) -> Path | None:
    """The last completed checkpoint to resume from; refuses to train over an earlier run by accident."""
    done = complete_checkpoints(out)
    if resume:
        return done[-1] if done else None
    if done or (out / FINAL).exists():
        raise InvalidOptionError(f"{out} already holds a training run; pass --resume to continue it, or another --out")
    return None


def train(args: Ov2TrainingArguments, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train as ``args`` says; see the module docstring. Writes ``args.output_dir``:
    checkpoints, ``train_log.jsonl``, ``loss_curve.png``, ``final/`` (model + processor)."""
    from .dataset import MixtureTrainDataset

    started = time.perf_counter()
    out = Path(args.output_dir)
    if not args.sources:
        raise InvalidOptionError(f"config {args.stage!r} lists no data sources")
    if args.max_steps is None or args.max_steps < 1:
        raise InvalidOptionError("max_steps must be set (>= 1): the mixture is drawn per step, not per epoch")
    args.gradient_accumulation_steps = args.gradient_accumulation_for(args.world_size)
    args.disable_tqdm = not progress
    resume_from = resume_point(out, resume)
    # Data first: a source that does not match the config fails before any model is built.
    dataset = MixtureTrainDataset(args.resolved_sources(), args.max_steps * args.global_batch_size, seed=args.seed)
    model, processor = build_model(args)
    processor.video_processor.codec_config = trained_codec_config(dataset) or None
    model.config.use_cache = False
    set_lm_attention(model, resolve_lm_attention(args.lm_attention, args.packing, args.device, args.bf16 or args.fp16))
    trainable = freeze_modules(model, args.train_modules)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    collator = Ov2DataCollator(processor, args.max_length, packing=args.packing, layout=args.packing_layout,
                               timestamp_decimals=args.timestamp_decimals,
                               source_timestamp_decimals=args.source_timestamp_decimals)
    check_fits(dataset, collator)
    trainer = Ov2Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator,
                         processing_class=processor)
    trainer.add_callback(JsonlLogCallback(out, trainer, dataset, args.global_batch_size))
    trainer.add_callback(CheckpointMarker(args.global_batch_size))
    if args.plot:
        trainer.add_callback(LossCurveCallback(out, f"{args.stage}: {args.max_steps} steps"))
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    final = export_final(trainer, processor, out)
    rows = [json.loads(line) for line in (out / LOG_NAME).read_text().splitlines()] if (out / LOG_NAME).is_file() else []
    return TrainResult(out, final, trainer.state.global_step, resume_from, trainable, frozen,
                       time.perf_counter() - started, rows[-1]["loss"] if rows else None)


# Tokenizer options that are not chosen per call (backend, budget, pixels and window are).
PER_CALL_OPTIONS = ("backend", "canvases", "max_pixels", "min_pixels", "images_per_group", "start", "end",
                    "threads", "progress")


def trained_codec_config(dataset: Any) -> dict[str, Any]:
    """Tokenizer options, beyond the defaults, that every codec / fixed source was precomputed with.

    Saved as the processor's ``codec_config``, so ``ov2 eval`` and ``ov2 chat`` tokenize new
    videos the way the model saw its training videos. Options on which sources disagree are
    left out (each call must then choose).
    """
    from ..options import CANVAS_BACKENDS, TokenizeOptions
    from .shards import tokenize_params

    defaults = TokenizeOptions().as_dict()
    seen: list[dict[str, Any]] = []
    for source in dataset.sources:
        tokenize = tokenize_params(dataset.mixture.datasets[source.name].index)
        if tokenize.get("backend") in CANVAS_BACKENDS:
            seen.append({k: v for k, v in tokenize.items()
                         if k in defaults and k not in PER_CALL_OPTIONS and v != defaults[k]})
    if not seen:
        return {}
    return {k: v for k, v in seen[0].items() if all(k in other and other[k] == v for other in seen[1:])}


def export_final(trainer: Ov2Trainer, processor: Any, out: Path) -> Path:
    """``out/final``: a plain checkpoint directory (model + processor) that ``from_pretrained`` loads strictly.

    Written to a hidden sibling and renamed, so a crash never leaves a half-written export.
    """
    final = out / FINAL
    staging = out / f".{FINAL}.partial"
    if trainer.args.should_save and staging.exists():
        shutil.rmtree(staging)
    trainer.save_model(str(staging))  # gathers FSDP / DeepSpeed shards on the main process
    if trainer.args.should_save:
        processor.save_pretrained(staging)
        previous = out / f".{FINAL}.old"
        if final.exists():
            final.rename(previous)
        staging.rename(final)
        shutil.rmtree(previous, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return final


def summary(result: TrainResult, args: Ov2TrainingArguments) -> str:
    """One screen: what trained, where everything went."""
    params = ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in result.trainable.items() if v)
    lines = [
        f"trained {args.stage}: {result.steps} steps of {args.global_batch_size} samples "
        f"({args.world_size} process{'es' if args.world_size > 1 else ''}, accumulation {args.gradient_accumulation_steps})",
        f"  trainable: {params}; frozen {result.frozen / 1e6:.2f}M",
        f"  last loss {result.last_loss:.4f}" if result.last_loss is not None else "  no loss logged",
        f"  resumed from {result.resumed_from}" if result.resumed_from else "  started fresh",
        f"  log: {result.out / LOG_NAME}; plot: {result.out / PLOT_NAME}",
        f"  export: {result.final} (ov2 chat / ov2 eval --model {result.final})",
        f"  {result.seconds:.0f} s",
    ]
    return "\n".join(lines)


def write_run_config(args: Ov2TrainingArguments, out: Path) -> None:
    """``out/train_config.json``: every field of the run (main process)."""
    if args.should_save:
        atomic_write_text(out / "train_config.json", args.to_json_string())


