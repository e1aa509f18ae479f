"""Training throughput: padded vs packed batches of the same samples, per attention path, side by side.

Three variants train on the same samples (``--preset``: a sample mix with a given padding
factor), each in a fresh child process, through ``Ov2Trainer.train()`` (forward, backward,
clipping, AdamW step, scheduler):

    padded         ``Ov2DataCollator(packing=False)``: one sample per row, right-padded to the longest,
                   no mask (causal attention alone is exact for the real tokens), SDPA ``is_causal``;
    packed-dense   ``packing=True, layout="bfd"``: rows of at most ``max_length`` filled best-fit
                   decreasing, SDPA with the block-causal mask transformers derives from the per-sample
                   position ids (the dense ``width^2`` mask, for reference: what packing cost before);
    packed-varlen  ``packing=True, layout="flat"``: the micro-batch as one row without padding, and the
                   language-model kernel ``lm_attention: auto`` picks for it (``ov2_varlen``, per-segment
                   SDPA, on CPU; flash-attn varlen on CUDA when installed, else ``ov2_varlen``);
    packed-flex    (CUDA only) the flat row with transformers' ``flex_attention``.

Presets (sample lengths drawn in a range, as fractions of ``max_length``):

    mixed   lengths 20 %..100 % of max_length, log-uniform (many short samples, a few long ones):
            padding factor ~1.9 (goal: packed/padded >= 1.5)
    low     lengths 83 %..100 %, uniform: padding factor ~1.1 (goal: >= 1.0)

Samples are made here, deterministically (seed 0): codec-stream video (``synthetic_visual_input``,
4-16 canvases of 4x4 to 12x12 patches, about a quarter of the tokens with their timestamp tags) or, one in eight, an image, plus an
answer of plain text that brings the sample to its drawn length (the answer is labelled). No
PyAV, no data folder. The model is random: on CPU a ~3.5 M-parameter Qwen3 (4 layers, width 256,
head_dim 64) behind a 2-layer width-64 ViT; on CUDA a ~0.35 B one (12x1024 Qwen3, head_dim 128,
12x768 ViT, bf16 autocast).

Reported per variant: real (non-padding) tokens/s from the median timed pass (clock: wall time on
CUDA; on CPU the child's process CPU time with one torch thread, which other jobs on a shared
machine inflate far less than wall time), the tokens the linear layers computed (padding
included), ViT patches (the same for every variant: packing does not touch the windowed ViT) and
peak memory (CPU: peak RSS growth over the state before training, VmHWM after a reset; CUDA:
``max_memory_allocated`` over the memory allocated before training). The first step's loss must
agree across variants (packing changes the arithmetic order, not the result). The last line is

    packed/padded tokens/s: R (padding factor P)

with R the packed-varlen variant's ratio to padded and P = padded computed tokens / real tokens.

    .venv/bin/python benchmarks/train_throughput.py --preset mixed      # CPU, ~3 min on 2 busy cores
    .venv/bin/python benchmarks/train_throughput.py --preset low
    python benchmarks/train_throughput.py --preset mixed --device cuda --json cuda_mixed.json
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

PRESETS: dict[str, dict[str, Any]] = {
    # Many short samples, a few long ones (images and short clips beside long videos): log-uniform.
    "mixed": dict(lengths=(0.20, 1.0), draw="log-uniform"),
    "low": dict(lengths=(0.83, 1.0), draw="uniform"),
}
DEVICES: dict[str, dict[str, Any]] = {
    # 2 busy CPU cores: one torch thread (see the clock), samples of up to 2048 tokens, one timed pass.
    "cpu": dict(config="stage4_tiny", max_length=2048, batch=8, batches=2, repeats=1, threads=1, checkpointing=False,
                max_canvases=16, max_pixels=56 * 56 * 16, vision=dict(hidden=64, layers=2, heads=2),
                text=dict(hidden=256, layers=4, heads=4, kv=2, head_dim=64), vocab=None),
    # A lent GPU: rows of up to 8192 tokens, the stage4 preset's optimiser, bf16 autocast, activation
    # checkpointing (an earlier H100 run of this model did not fit 80 GB without it).
    "cuda": dict(config="stage4", max_length=8192, batch=8, batches=3, repeats=3, threads=None, checkpointing=True,
                 max_canvases=64,
                 max_pixels=150_000, vision=dict(hidden=768, layers=12, heads=12),
                 text=dict(hidden=1024, layers=12, heads=16, kv=8, head_dim=128), vocab=32768),
}
# (name, packing, layout, lm_attention), run in this order; "auto" is what training presets use.
VARIANTS = (("padded", False, "flat", "sdpa"), ("packed-dense", True, "bfd", "sdpa"),
            ("packed-varlen", True, "flat", "auto"))
CUDA_VARIANTS = (("packed-flex", True, "flat", "flex_attention"),)
GRIDS = ((12, 12), (8, 8), (4, 4))  # patches per canvas (36, 16, 4 tokens after the 2x2 merge)
VISUAL_SHARE = 0.25


# --------------------------------------------------------------------------------- samples
def make_samples(processor: Any, cfg: dict[str, Any]) -> list[SimpleNamespace]:
    """``batches x batch`` samples whose token lengths are drawn uniformly in the preset's range."""
    from ov2.model.tiny import synthetic_visual_input
    from ov2.train.collator import Ov2DataCollator

    rng = np.random.default_rng(0)
    lo, hi = (int(f * cfg["max_length"]) for f in cfg["lengths"])
    logging.getLogger("ov2.train.collator").setLevel(logging.ERROR)  # budgets tried and refused as overlong
    encoder = Ov2DataCollator(processor, cfg["max_length"])
    samples = []
    for i in range(cfg["batches"] * cfg["batch"]):
        u = rng.random()
        drawn = lo * (hi / lo) ** u if cfg["draw"] == "log-uniform" else lo + (hi - lo) * u
        target = int(drawn) - 2  # a little room: the answer's last word may run over
        kind = "image" if i % 8 == 7 else "video"
        question = "Describe the picture." if kind == "image" else "What happens, and when?"
        sample = SimpleNamespace(id=f"s{i}", source=kind, kinds=[kind], media=None, messages=None)

        def conversation(answer: str) -> list[dict[str, Any]]:
            return [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": question}]},
                    {"role": "assistant", "content": [{"type": "text", "text": answer}]}]

        sample.messages = conversation("x")
        # The visual part takes about VISUAL_SHARE of the sample (its timestamp tags included).
        if kind == "image":
            side = max(2, int(round((VISUAL_SHARE * target) ** 0.5)))
            sample.media = [(rng.random((28 * side, 28 * side, 3)) * 255).astype(np.uint8)]
            encoded = encoder.encode(sample)
        else:
            # The largest budget (canvases, then canvas size) that fits the share; at least 4 canvases of 4x4 patches.
            for grid in GRIDS:
                for canvases in range(cfg["max_canvases"], 3, -4):
                    sample.media = [synthetic_visual_input(canvases, grid, padded_blocks=[(canvases - 1, 1)], seed=i)]
                    encoded = encoder.encode(sample)
                    if encoded is not None and len(encoded) <= VISUAL_SHARE * target:
                        break
                else:
                    continue
                break
        if encoded is None:
            raise SystemExit(f"sample {i} does not fit max_length {cfg['max_length']}: lower max_canvases")
        words = rng.choice(["jump", "rope", "at", "1.5", "seconds", "then", "again", "the", "person"],
                           size=max(1, target - len(encoded)))
        sample.messages = conversation(" ".join(words)[: max(1, target - len(encoded))])
        samples.append(sample)
    return samples


# ----------------------------------------------------------------------------------- model
def build_model(cfg: dict[str, Any], device: str) -> tuple[Any, Any]:
    """A random model of the device's size and a processor with its byte-level tokenizer."""
    from transformers import PreTrainedTokenizerFast, Qwen2VLImageProcessorPil

    from ov2.model.config import LlavaOnevision2Config
    from ov2.model.modeling import LlavaOnevision2ForConditionalGeneration
    from ov2.model.tiny import TINY_VOCAB, build_byte_tokenizer
    from ov2.processing.processor import LlavaOnevision2Processor
    from ov2.processing.text import SPECIAL_TOKENS
    from ov2.processing.video import LlavaOnevision2VideoProcessor

    tok = build_byte_tokenizer()
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    v, t = cfg["vision"], cfg["text"]
    config = LlavaOnevision2Config(
        vision_config={"model_type": "onevision_encoder", "hidden_size": v["hidden"],
                       "intermediate_size": 4 * v["hidden"], "num_hidden_layers": v["layers"],
                       "num_attention_heads": v["heads"], "patch_size": 14, "out_hidden_size": t["hidden"],
                       "spatial_merge_size": 2, "frame_windows_size": 4},
        text_config={"model_type": "qwen3", "vocab_size": cfg["vocab"] or TINY_VOCAB, "hidden_size": t["hidden"],
                     "intermediate_size": 3 * t["hidden"], "num_hidden_layers": t["layers"],
                     "num_attention_heads": t["heads"], "num_key_value_heads": t["kv"], "head_dim": t["head_dim"],
                     "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
                     "tie_word_embeddings": False, "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"], "bos_token_id": ids["<|endoftext|>"]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    with torch.device(device):  # random init on the GPU: seconds instead of a minute on the CPU
        model = LlavaOnevision2ForConditionalGeneration(config)
    model.config.use_cache = False
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   model_max_length=32768)
    images = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=cfg["max_pixels"], patch_size=14, merge_size=2,
                                      temporal_patch_size=1)
    return model, LlavaOnevision2Processor(images, fast, LlavaOnevision2VideoProcessor(max_pixels=cfg["max_pixels"]))


# ------------------------------------------------------------------------------- measuring
def _status_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class _StepTimer:
    """Trainer callback: wall and CPU time of every optimiser step (CUDA-synchronised) and the logged losses."""

    def __init__(self, device: str) -> None:
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                timer._sync()
                timer.started = (time.perf_counter(), time.process_time())

            def on_step_end(self, args, state, control, **kw):
                timer._sync()
                timer.seconds.append(time.perf_counter() - timer.started[0])
                timer.cpu_seconds.append(time.process_time() - timer.started[1])

            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "loss" in logs:
                    timer.losses.append(float(logs["loss"]))

        self.device = device
        self.started = (0.0, 0.0)
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []
        self.losses: list[float] = []
        self.callback = Callback()

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()


class _Batches(torch.utils.data.Dataset):
    """Pre-collated batches, ``passes`` times over (the data loader then costs nothing)."""

    def __init__(self, batches: list[dict[str, Any]], passes: int) -> None:
        self.batches, self.passes = batches, passes

    def __len__(self) -> int:
        return len(self.batches) * self.passes

    def __getitem__(self, i: int) -> dict[str, Any]:
        return dict(self.batches[i % len(self.batches)])


def _first(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0]


def run_variant(variant: tuple[str, bool, str, str], cfg: dict[str, Any], device: str, queue: Any) -> None:
    """Child-process body: build, collate, train ``(1 + repeats)`` passes, report through ``queue``."""
    name = variant[0]
    try:
        queue.put(_run_variant(variant, cfg, device))
    except torch.OutOfMemoryError as exc:  # a result too: this variant does not fit
        queue.put({"variant": name, "failed": f"out of memory: {str(exc).splitlines()[0]}"})
    except BaseException as exc:  # report instead of hanging the parent on queue.get()
        import traceback

        queue.put({"variant": name, "failed": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})


def _run_variant(variant: tuple[str, bool, str, str], cfg: dict[str, Any], device: str) -> dict[str, Any]:
    import transformers
    from transformers.trainer_callback import PrinterCallback

    from ov2.model.varlen import resolve_lm_attention, set_lm_attention
    from ov2.train.collator import IGNORE, Ov2DataCollator
    from ov2.train.config import build_config
    from ov2.train.trainer import Ov2Trainer

    name, packing, layout, attention = variant
    transformers.logging.set_verbosity_error()
    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    model, processor = build_model(cfg, device)
    samples = make_samples(processor, cfg)
    collator = Ov2DataCollator(processor, cfg["max_length"], packing=packing, layout=layout)
    batches = [collator(samples[i * cfg["batch"] : (i + 1) * cfg["batch"]]) for i in range(cfg["batches"])]
    lengths = [len(collator.encode(s)) for s in samples]
    if sum(collator.skipped.counts.values()):
        raise RuntimeError(f"samples skipped ({dict(collator.skipped.counts)}): variants would not see the same data")
    passes = 1 + cfg["repeats"]
    with tempfile.TemporaryDirectory() as out:
        args = build_config(cfg["config"], {
            "output_dir": out, "max_steps": len(batches) * passes,
            "activation_checkpointing": cfg["checkpointing"],
            "per_device_train_batch_size": 1, "global_batch_size": 1, "gradient_accumulation_steps": 1,
            "max_length": cfg["max_length"], "packing": packing, "packing_layout": layout, "lm_attention": attention,
            "save_strategy": "no", "logging_steps": 1, "report_to": "none", "disable_tqdm": True,
            "dataloader_num_workers": 0, "plot": False,
        })
        set_lm_attention(model, resolve_lm_attention(args.lm_attention, packing, device, args.bf16 or args.fp16))
        trainer = Ov2Trainer(model=model, args=args, train_dataset=_Batches(batches, passes), data_collator=_first,
                             processing_class=processor)
        timer = _StepTimer(device)
        trainer.add_callback(timer.callback)
        trainer.remove_callback(PrinterCallback)
        if device == "cuda":
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            hwm_reset = True
        else:
            base = _status_kib("VmRSS") * 1024
            hwm_reset = reset_peak_rss()
        trainer.train()
        if device == "cuda":
            peak, peak_how = torch.cuda.max_memory_allocated() - base, "max_memory_allocated - allocated before"
        else:
            import resource

            hwm = _status_kib("VmHWM") * 1024 if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            peak = hwm - base
            peak_how = "VmHWM (reset before training) - VmRSS before" if hwm_reset else "ru_maxrss - VmRSS before"
    k = len(batches)
    pass_wall = [sum(timer.seconds[p * k : (p + 1) * k]) for p in range(passes)]
    pass_cpu = [sum(timer.cpu_seconds[p * k : (p + 1) * k]) for p in range(passes)]
    clock = pass_wall if device == "cuda" else pass_cpu
    timed = statistics.median(clock[1:])
    real = sum(int(b["num_tokens"]) for b in batches)
    return {
        "variant": name, "packing": packing, "layout": layout if packing else None,
        "attn_implementation": model.config.text_config._attn_implementation,
        "sample_lengths": lengths,
        "rows_per_batch": [int(b["input_ids"].shape[0]) for b in batches],
        "row_width": [int(b["input_ids"].shape[1]) for b in batches],
        "real_tokens_per_pass": real,
        "computed_tokens_per_pass": sum(int(b["input_ids"].numel()) for b in batches),
        "labelled_tokens_per_pass": sum(int((b["labels"] != IGNORE).sum()) for b in batches),
        "vit_patches_per_pass": sum(int(b["pixel_values"].shape[0]) for b in batches if "pixel_values" in b),
        "pass_seconds": pass_wall, "pass_cpu_seconds": pass_cpu,
        "clock": "wall" if device == "cuda" else f"process CPU time ({torch.get_num_threads()} torch threads)",
        "seconds_per_step": timed / k, "wall_seconds_per_step": statistics.median(pass_wall[1:]) / k,
        "tokens_per_s": real / timed, "peak_bytes": int(max(peak, 0)), "peak_how": peak_how,
        "first_loss": timer.losses[0] if timer.losses else None,
        "params": sum(p.numel() for p in model.parameters()),
    }


# ------------------------------------------------------------------------------------ main
def run_child(variant: tuple[str, bool, str, str], cfg: dict[str, Any], device: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=run_variant, args=(variant, cfg, device, queue))
    proc.start()
    result = None
    while result is None:
        try:
            result = queue.get(timeout=5)
        except Empty:
            if not proc.is_alive():  # killed without a word: on Linux, SIGKILL is the OOM killer's
                result = {"variant": variant[0], "failed": f"child exited with code {proc.exitcode}"
                          + (" (killed: out of host memory?)" if proc.exitcode == -9 else "")}
    proc.join()
    if "traceback" in result:
        sys.stderr.write(result["traceback"])
    return result


def ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
    if "failed" in a or "failed" in b or not b[key]:
        return float("nan")
    return a[key] / b[key]


def bench(device: str, preset: str, cfg: dict[str, Any]) -> dict[str, Any]:
    t = cfg["text"]
    print(f"\n== {device}, preset {preset}: sample lengths {cfg['lengths'][0]:.0%}..{cfg['lengths'][1]:.0%} "
          f"({cfg['draw']}) of "
          f"max_length {cfg['max_length']}; {cfg['batches']} batches x {cfg['batch']} samples; Qwen3 "
          f"{t['layers']}x{t['hidden']} (head_dim {t['head_dim']}), ViT {cfg['vision']['layers']}x"
          f"{cfg['vision']['hidden']}; 1 warm-up + {cfg['repeats']} timed passes (median); time = "
          f"{'wall' if device == 'cuda' else 'child CPU time, %s torch thread(s)' % cfg.get('threads')}", flush=True)
    variants = VARIANTS + (CUDA_VARIANTS if device == "cuda" else ())
    results: dict[str, dict[str, Any]] = {}
    for variant in variants:
        r = results[variant[0]] = run_child(variant, cfg, device)
        if "failed" in r:
            print(f"   {variant[0]:14s} failed: {r['failed']}", flush=True)
            continue
        print(f"   {r['variant']:14s} {r['attn_implementation']:18s} rows {r['rows_per_batch']} width {r['row_width']}  "
              f"computed {r['computed_tokens_per_pass']:>7,} tok ({r['real_tokens_per_pass']:,} real)  "
              f"{r['seconds_per_step'] * 1000:8.1f} ms/step  {r['tokens_per_s']:9.1f} tok/s  "
              f"(wall {r['wall_seconds_per_step'] * 1000:.0f} ms/step)  peak +{r['peak_bytes'] / 2**20:7.1f} MiB  "
              f"loss1 {r['first_loss']:.5f}", flush=True)
    padded, dense, varlen = (results[v[0]] for v in VARIANTS)
    if "failed" in padded or "failed" in varlen:
        raise SystemExit("the padded or packed-varlen variant failed: no ratio to report")
    factor = padded["computed_tokens_per_pass"] / padded["real_tokens_per_pass"]
    ok = [r for r in results.values() if "failed" not in r]
    losses = [r["first_loss"] for r in ok]
    spread = (max(losses) - min(losses)) / max(abs(losses[0]), 1e-12)
    tolerance = 1e-4 if device == "cpu" else 2e-2  # bf16 autocast on GPU: rounding depends on the layout
    vit = {r["vit_patches_per_pass"] for r in ok}
    ratios = {name: {"tokens_per_s": ratio(r, padded, "tokens_per_s"), "peak_memory": ratio(r, padded, "peak_bytes")}
              for name, r in results.items() if name != "padded"}
    print(f"   padding factor {factor:.2f} (padded computes {padded['computed_tokens_per_pass']:,} tokens for "
          f"{padded['real_tokens_per_pass']:,} real); ViT patches per pass {sorted(vit)} (the same for every variant: "
          f"{len(vit) == 1})")
    for name, rr in ratios.items():
        print(f"   {name + '/padded':22s} tokens/s {rr['tokens_per_s']:6.3f}   peak memory {rr['peak_memory']:6.3f}")
    print(f"   first-step losses agree across the {len(losses)} variants: {spread < tolerance} "
          f"(relative spread {spread:.2e})")
    return {"device": device, "preset": preset, "config": cfg, "variants": results, "ratios": ratios,
            "padding_factor": factor, "first_loss_relative_spread": spread, "torch": torch.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=tuple(PRESETS), default="mixed", help="sample mix (padding factor)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: cuda if available")
    for key in ("batch", "batches", "repeats", "max_length", "threads"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = ap.parse_args()
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    cfg = {**DEVICES[device], **PRESETS[args.preset]}
    for key in ("batch", "batches", "repeats", "max_length", "threads"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU threads, CUDA: "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    started = time.perf_counter()
    result = bench(device, args.preset, cfg)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(f"   total {result['seconds']:.0f} s")
    # The last line: the packed-varlen variant's ratio to padded, and the mix's padding factor.
    print(f"packed/padded tokens/s: {result['ratios']['packed-varlen']['tokens_per_s']:.2f} "
          f"(padding factor {result['padding_factor']:.2f})", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
