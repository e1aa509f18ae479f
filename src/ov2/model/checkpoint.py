"""Strict checkpoint loading on top of transformers' own ``from_pretrained``, and old key names.

transformers loads and saves the weights (sharded safetensors, dtype, device maps).
Two things are ours: a mismatch between a checkpoint and its config is an error
listing every offending key (transformers would warn and initialise randomly), and
the release's older key layout is mapped through a registered conversion mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import VideoError
from .config import MODEL_TYPE

# Older release drops stored the vision tower as "visual.*" and the LLM as "model.*"
# (the release's _checkpoint_conversion_mapping); the current names are model.visual.* and
# model.language_model.*.
LEGACY_KEY_RULES: tuple[tuple[str, str], ...] = (
    (r"^visual\.", "model.visual."),
    (r"^model\.(?!language_model\.|visual\.)", "model.language_model."),
)


class CheckpointError(VideoError, ValueError):
    """A checkpoint directory that does not match the model (lists the offending keys)."""


def legacy_mapping_registered() -> bool:
    from transformers.conversion_mapping import get_checkpoint_conversion_mapping

    return get_checkpoint_conversion_mapping(MODEL_TYPE) is not None


def register_legacy_key_mapping() -> None:
    """Register the old-to-new key renaming with transformers' conversion mappings (idempotent)."""
    from transformers.conversion_mapping import register_checkpoint_conversion_mapping
    from transformers.core_model_loading import WeightRenaming

    if legacy_mapping_registered():
        return
    register_checkpoint_conversion_mapping(
        MODEL_TYPE, [WeightRenaming(source_patterns=src, target_patterns=dst) for src, dst in LEGACY_KEY_RULES]
    )


def _listing(title: str, keys: Any, limit: int = 50) -> str:
    items = sorted(str(k) for k in keys)
    more = " ..." if len(items) > limit else ""
    return f"  {title} ({len(items)}): " + ", ".join(items[:limit]) + more


def strict_loading_error(info: dict[str, Any], directory: Path) -> CheckpointError | None:
    """The error for a ``from_pretrained`` loading report with missing/unexpected/mismatched keys, else None."""
    missing = set(info.get("missing_keys") or ())
    unexpected = set(info.get("unexpected_keys") or ())
    mismatched = info.get("mismatched_keys") or ()
    if not (missing or unexpected or mismatched):
        return None
    lines = [f"checkpoint {directory} does not match its config.json:"]
    if missing:
        lines.append(_listing("missing keys", missing))
    if unexpected:
        lines.append(_listing("unexpected keys", unexpected))
    if mismatched:
        shapes = [f"{item[0]}: checkpoint {tuple(item[1])} vs model {tuple(item[2])}" if isinstance(item, tuple)
                  and len(item) == 3 else str(item) for item in mismatched]
        lines.append(f"  shape mismatches ({len(shapes)}): " + "; ".join(sorted(shapes)[:20]))
    lines.append("  fix: point at a checkpoint written for this config (or fix config.json's sizes)")
    return CheckpointError("\n".join(lines))
