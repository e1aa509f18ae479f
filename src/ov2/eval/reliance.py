"""Does a trained model read its visual input? Answer loss with each sample's own video against another's.

A model can score above zero without looking: it learns the answer format and the typical answer
(a rhythm for jump rope, the usual place of an object for tracking). This check takes precomputed
training samples, scores every answer token once with the sample's own visual tensors and once with
those of another sample of the same shape (the next one, in a cycle), and reports both mean losses.
A model that reads its video loses clearly more with the wrong one; a gap near zero means the answers
come from the text alone, whatever the metrics say.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidOptionError


def visual_reliance(model_dir: str | os.PathLike[str], precomputed: str | os.PathLike[str], n: int = 16,
                    timestamp_decimals: int = 2,
                    source_timestamp_decimals: dict[str, int] | None = None) -> dict[str, Any]:
    """``{"n", "own_loss", "swapped_loss", "gap"}`` over the first ``n`` samples of a precomputed directory.

    Samples are swapped only with samples whose visual tensors have the same shapes (same canvas count
    and size); a sample with no partner is left out (``n`` counts those used). ``gap`` is
    ``swapped_loss - own_loss`` in nats per answer token. The timestamp options are the training run's
    (its ``train_config.json``), so the prompts are the ones it learned on.
    """
    import torch

    from ..model.loading import load_model_and_processor
    from ..model.modeling import VISUAL_INPUTS
    from ..train.collator import Ov2DataCollator
    from ..train.shards import PrecomputedDataset

    if n < 2:
        raise InvalidOptionError(f"visual reliance needs at least 2 samples to swap, got n={n}")
    model, processor = load_model_and_processor(model_dir)
    data = PrecomputedDataset(precomputed)
    collator = Ov2DataCollator(processor, max_length=1 << 20, packing=False, timestamp_decimals=timestamp_decimals,
                               source_timestamp_decimals=source_timestamp_decimals)
    encoded = [e for e in (collator.encode(data[i]) for i in range(min(n, len(data)))) if e is not None]

    def shapes(e: Any) -> tuple:
        return tuple((k, tuple(e.visual[k].shape)) for k in VISUAL_INPUTS if k in e.visual)

    def loss(sample: Any, visual_of: Any) -> float:
        kwargs = {k: visual_of.visual[k].to(model.device) for k in VISUAL_INPUTS if k in visual_of.visual}
        ids, labels = (torch.tensor([x], device=model.device) for x in (sample.input_ids, sample.labels))
        with torch.no_grad():
            return float(model(input_ids=ids, labels=labels, **kwargs).loss)

    groups: dict[tuple, list[Any]] = {}
    for e in encoded:
        groups.setdefault(shapes(e), []).append(e)
    own, swapped = [], []
    for members in groups.values():
        if len(members) < 2:
            continue
        for i, e in enumerate(members):
            own.append(loss(e, e))
            swapped.append(loss(e, members[(i + 1) % len(members)]))
    if not own:
        raise InvalidOptionError(f"no two of the first {n} samples in {precomputed} have visual input of one shape")
    own_loss, swapped_loss = sum(own) / len(own), sum(swapped) / len(swapped)
    return {"n": len(own), "own_loss": own_loss, "swapped_loss": swapped_loss, "gap": swapped_loss - own_loss}
