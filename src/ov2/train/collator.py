"""Turn precomputed samples into model batches: the processor per sample, labels on assistant turns, packing.

Each sample (a :class:`~ov2.train.shards.TrainSample`: normalized messages plus decoded
media) goes through the chat template and the processor exactly as at inference
(one grid row per video, block-order positions, per-run ``<t seconds>`` tags), so
training sees the release's sample format. Labels are -100 everywhere except the
content of every assistant turn and its ``<|im_end|>``.

An overlong sample drops its last question-answer round until it fits, or is skipped;
a vision block is never cut.

With ``packing`` a batch carries no padding for the linear layers to compute. By default
(``layout="flat"``) the micro-batch becomes **one row**: its samples back to back, in
order. With ``layout="bfd"`` the samples fill rows of at most ``max_length`` tokens by
best-fit decreasing (as TRL does); the short tail of a row is padding and is its own
segment. Either way the batch carries:

* ``position_ids`` restarting at 0 for every sample (the LLM's plain 1-D positions);
* ``cu_seq_lens_q`` / ``cu_seq_lens_k`` (int32, cumulative segment lengths over the row-major
  flattened batch) and ``max_length_q`` / ``max_length_k`` (ints): the sample boundaries, in
  the names transformers' flash-attention path reads;
* no attention mask.

The language model's kernel turns those into attention that never crosses samples:
``ov2_varlen`` (per-segment SDPA, the CPU default) and flash-attn varlen read the
boundaries; SDPA / eager / flex derive a block mask from the position ids (exact, but a
dense ``width^2`` mask for SDPA / eager); see :mod:`ov2.model.varlen`. The first token of
every sample is a prompt token (label -100), so the loss never predicts across samples.

Without packing, samples are right-padded and the batch carries no attention mask either:
a real token attends only to earlier positions, which are all real, so causal attention
alone is exact for every labelled token, and SDPA then takes its ``is_causal`` kernel
instead of a materialised padding mask (benchmarks/train_throughput.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import InvalidOptionError
from ..model.varlen import cu_seq_lens

log = logging.getLogger(__name__)

IGNORE = -100
PACK_LAYOUTS = ("flat", "bfd")
VISUAL_KEYS = ("pixel_values", "image_grid_thw", "patch_positions", "window_lengths")
MAX_LOGGED_SKIPS = 20


@dataclass
class EncodedSample:
    """One sample as token ids, labels and its visual tensors (in prompt order)."""

    input_ids: list[int]
    labels: list[int]
    visual: dict[str, torch.Tensor]
    source: str
    id: str
    rounds_dropped: int = 0

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class SkipCounter:
    """Samples left out of a batch, by reason (logged for the first few)."""

    counts: Counter = field(default_factory=Counter)

    def add(self, reason: str, sample_id: str, detail: str) -> None:
        self.counts[reason] += 1
        if sum(self.counts.values()) <= MAX_LOGGED_SKIPS:
            log.warning("skipping sample %s (%s): %s", sample_id, reason, detail)


def assistant_labels(input_ids: list[int], header: list[int], end_id: int) -> list[int]:
    """Labels: the tokens after each ``<|im_start|>assistant\\n`` header up to and including ``<|im_end|>``."""
    labels = [IGNORE] * len(input_ids)
    n, h = len(input_ids), len(header)
    i = 0
    while i <= n - h:
        if input_ids[i : i + h] == header:
            j = i + h
            while j < n:
                labels[j] = input_ids[j]
                if input_ids[j] == end_id:
                    break
                j += 1
            i = j + 1
        else:
            i += 1
    return labels


def drop_last_round(messages: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The conversation without its last user turn and what follows; None if no answered round would remain."""
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last_user is None:
        return None
    kept = messages[:last_user]
    return kept if any(m["role"] == "assistant" for m in kept) else None


def media_parts(messages: list[dict[str, Any]]) -> int:
    """How many media placeholders (video / image parts) a conversation holds."""
    return sum(1 for m in messages if not isinstance(m["content"], str)
               for part in m["content"] if part.get("type") in ("video", "image"))


class Ov2DataCollator:
    """Processor per sample, assistant-only labels, overlong handling, then packing or right padding.

    Call it with a list of samples (objects with ``messages``, ``media``, ``kinds``,
    ``source``, ``id``). Returns ``input_ids``, ``labels``, the visual tensors, when packed
    ``position_ids`` and the boundaries ``cu_seq_lens_q/k`` + ``max_length_q/k`` (no attention
    mask either way: see the module docstring), and ``num_tokens`` (real tokens in the batch;
    the trainer reads and removes it). ``layout``: ``"flat"`` (one row) or ``"bfd"`` (rows of at
    most ``max_length``, best-fit decreasing).
    """

    def __init__(self, processor: Any, max_length: int, packing: bool = True, timestamp_decimals: int = 1,
                 source_timestamp_decimals: dict[str, int] | None = None, layout: str = "flat") -> None:
        if layout not in PACK_LAYOUTS:
            raise InvalidOptionError(f"packing layout {layout!r} is not one of {PACK_LAYOUTS}")
        self.processor = processor
        self.max_length = int(max_length)
        self.packing = packing
        self.layout = layout
        self.timestamp_decimals = timestamp_decimals
        # Per manifest source, as evaluation asks each task (JumpScore 2 decimals, grounding 1).
        self.source_timestamp_decimals = dict(source_timestamp_decimals or {})
        tok = processor.tokenizer
        self.header = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        self.end_id = tok.convert_tokens_to_ids("<|im_end|>")
        self.pad_id = processor.pad_token_id
        self.skipped = SkipCounter()

    # ------------------------------------------------------------ one sample
    def encode(self, sample: Any) -> EncodedSample | None:
        """The sample's ids, labels and visual tensors; None (counted) when it cannot fit or be read."""
        messages = list(sample.messages)
        dropped = 0
        while True:
            n_media = media_parts(messages)
            media = list(zip(sample.kinds, sample.media))[:n_media]
            try:
                prompt = self.processor.apply_chat_template(messages)
                out = self.processor(
                    text=prompt,
                    images=[m for k, m in media if k == "image"] or None,
                    videos=[m for k, m in media if k == "video"] or None,
                    timestamp_decimals=self.source_timestamp_decimals.get(getattr(sample, "source", ""),
                                                                          self.timestamp_decimals),
                    padding=False,
                )
            except (ValueError, TypeError) as exc:
                self.skipped.add("unprocessable", sample.id, str(exc))
                return None
            ids = out["input_ids"][0].tolist()
            if len(ids) <= self.max_length:
                break
            messages = drop_last_round(messages)
            dropped += 1
            if messages is None:
                self.skipped.add("overlong", sample.id, f"{len(ids)} tokens even with one round (max_length "
                                 f"{self.max_length})")
                return None
        labels = assistant_labels(ids, self.header, self.end_id)
        if all(x == IGNORE for x in labels):
            self.skipped.add("no_assistant_tokens", sample.id, "no assistant turn in the rendered conversation")
            return None
        visual = {k: out[k] for k in VISUAL_KEYS if k in out}
        return EncodedSample(ids, labels, visual, getattr(sample, "source", ""), str(sample.id), dropped)

    # ----------------------------------------------------------------- batch
    def __call__(self, samples: list[Any]) -> dict[str, torch.Tensor]:
        encoded = [e for e in (self.encode(s) for s in samples) if e is not None]
        if not encoded:
            # Every rank must take the same steps: an empty batch trains on nothing (all labels ignored).
            encoded = [EncodedSample([self.pad_id], [IGNORE], {}, "", "<empty>")]
        if not self.packing:
            rows = [[e] for e in encoded]
        elif self.layout == "flat":
            rows = [encoded]
        else:
            rows = pack_bfd(encoded, self.max_length)
        return self.batch(rows)

    def batch(self, rows: list[list[EncodedSample]]) -> dict[str, torch.Tensor]:
        """Tensors for rows of samples (one sample per row unless packed)."""
        width = max(sum(len(e) for e in row) for row in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        for r, row in enumerate(rows):
            at = 0
            for e in row:
                n = len(e)
                ids[r, at : at + n] = torch.as_tensor(e.input_ids)
                labels[r, at : at + n] = torch.as_tensor(e.labels)
                at += n
        real = sum(len(e) for row in rows for e in row)
        out: dict[str, torch.Tensor] = {"input_ids": ids, "labels": labels, "num_tokens": torch.tensor(real)}
        if self.packing:  # padded rows use none: causal attention with the model's own positions
            out["position_ids"] = packed_positions(rows, width)
            out.update(boundaries(rows, width))
        parts = [e.visual for row in rows for e in row if e.visual]
        if parts:
            for key in VISUAL_KEYS:
                out[key] = torch.cat([p[key] for p in parts])
        return out


def pack_bfd(samples: list[EncodedSample], max_length: int) -> list[list[EncodedSample]]:
    """Best-fit decreasing: longest sample first, each into the fullest row it still fits (a new row if none).

    Rows keep their samples longest first; the visual tensors follow the rows' order.
    """
    rows: list[list[EncodedSample]] = []
    free: list[int] = []
    for e in sorted(samples, key=len, reverse=True):
        fits = [r for r, room in enumerate(free) if room >= len(e)]
        if fits:
            r = min(fits, key=lambda i: free[i])
        else:
            rows.append([])
            free.append(max_length)
            r = len(rows) - 1
        rows[r].append(e)
        free[r] -= len(e)
    return rows


def segment_lengths_of(rows: list[list[EncodedSample]], width: int) -> list[int]:
    """Segment lengths over the row-major flattened batch: each sample, then each row's padding tail."""
    lengths: list[int] = []
    for row in rows:
        lengths += [len(e) for e in row]
        tail = width - sum(len(e) for e in row)
        if tail:
            lengths.append(tail)
    return lengths


def boundaries(rows: list[list[EncodedSample]], width: int) -> dict[str, Any]:
    """``cu_seq_lens_q/k`` and ``max_length_q/k`` of packed rows (one tensor object for q and k)."""
    lengths = segment_lengths_of(rows, width)
    cu = cu_seq_lens(lengths)
    return {"cu_seq_lens_q": cu, "cu_seq_lens_k": cu, "max_length_q": max(lengths), "max_length_k": max(lengths)}


def packed_positions(rows: list[list[EncodedSample]], width: int) -> torch.Tensor:
    """Position ids of packed rows: restarting at 0 for every sample, so attention never crosses samples."""
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for e in row:
            positions[r, at : at + len(e)] = torch.arange(len(e))
            at += len(e)
        # Right padding forms its own segment (positions restart), so it never joins a sample.
        positions[r, at:] = torch.arange(width - at)
    return positions
