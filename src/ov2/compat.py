"""The transformers versions ov2 supports, checked at import, and the few APIs that moved inside that range.

ov2 supports **transformers 5.16.1 up to the newest 5.x** (vLLM 0.32-0.33 cap it below 5.20/5.21;
lmms-eval and plain users have the newest). What moved inside that range, and where ov2 handles it:

* 5.19 added ``VideoProcessorMixin`` (the torchvision-free video-processor base); before it only the
  torchvision-backed ``BaseVideoProcessor`` existed. :mod:`ov2.processing.video` falls back to the
  settings mixin and writes its own settings, so the saved file is the same in every version.
* 5.20 added ``SubConfigSpec``; older releases take a plain ``sub_configs`` mapping.
  :mod:`ov2.model.config` declares whichever exists and builds both sub-configs itself.
* 5.21 added ``slice_logits_to_keep``; :mod:`ov2.model.modeling` falls back to the older inline slice.
* 5.23 renamed ``TrainingArguments.gradient_checkpointing`` to ``activation_checkpointing`` (and the
  model method to ``activation_checkpointing_enable``); :mod:`ov2.train.config` declares the new field
  on older versions and passes it on.
* 5.24 renamed the KV-cache argument and output field ``past_key_values`` to ``cache``, and
  ``generate`` passes the new name. ov2's forwards take either (``take_cache``) and pass on the
  installed version's name (``CACHE_KWARG``).
* 5.25 routes a processor's video sub-processor through ``AutoVideoProcessor``, which demands
  torchvision. :class:`ov2.processing.LlavaOnevision2Processor` builds its three parts itself in
  ``from_pretrained``, so it loads the same way, without torchvision, in every version.
* Before 5.23, ``ProcessorMixin._merge_kwargs`` needs the kwargs class passed and reads text
  defaults only from its ``_defaults``; ov2 passes it, and :mod:`ov2.processing.kwargs` declares them.

The range is declared once here and in ``pyproject.toml``; a test keeps the two equal. This module
imports nothing heavy: ``import ov2`` checks the version from package metadata alone.
"""

from __future__ import annotations

from importlib import metadata

from packaging.version import Version

from .errors import UnsupportedDependencyError

TRANSFORMERS_MIN = "5.16.1"
TRANSFORMERS_BELOW = "6"
TRANSFORMERS_RANGE = f">={TRANSFORMERS_MIN},<{TRANSFORMERS_BELOW}"


def check_transformers_version(installed: str | None = None) -> str:
    """Raise :class:`UnsupportedDependencyError` (one line: installed version, range, fix) outside the range.

    Reads the installed distribution's metadata, so ``import ov2`` does not import transformers.
    Returns the installed version.
    """
    if installed is None:
        try:
            installed = metadata.version("transformers")
        except metadata.PackageNotFoundError:
            raise UnsupportedDependencyError(
                f"ov2 needs transformers{TRANSFORMERS_RANGE}, which is not installed: "
                f"pip install 'transformers{TRANSFORMERS_RANGE}'"
            ) from None
    version = Version(installed)
    if not Version(TRANSFORMERS_MIN) <= version < Version(TRANSFORMERS_BELOW):
        raise UnsupportedDependencyError(
            f"ov2 supports transformers{TRANSFORMERS_RANGE}, but transformers {installed} is installed: "
            f"pip install 'transformers{TRANSFORMERS_RANGE}'"
        )
    return installed

