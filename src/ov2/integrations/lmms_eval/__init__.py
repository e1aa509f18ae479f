"""ov2 in stock lmms-eval 0.7.x: the model ``ov2`` and the ``ov2_jumprope`` / ``ov2_grounding`` tasks.

lmms-eval finds the model through the ``lmms_eval.models`` entry point declared in
ov2's pyproject.toml, which points at :func:`manifest`. Tasks have no entry point in
lmms-eval; ``ov2 lmms-tasks`` writes their YAML files for ``--include_path``.

Modules:

* :mod:`.backend` - every call into ov2's model and processor (the only place to adapt
  when those change);
* :mod:`.prompt` - lmms-eval chat messages -> one ov2 question with its visuals;
* :mod:`.model` - the lmms-eval model classes (chat, and simple for ``--force_simple``);
* :mod:`.tasks` - the functions the task YAMLs name (questions, scoring, aggregation);
* :mod:`.task_files` - writing those YAMLs.

Importing this package does not import lmms-eval, torch or transformers.
"""

from __future__ import annotations

from typing import Any

MODEL_ID = "ov2"
# The lmms-eval release this integration was checked against (docs/evaluation.md says why it is
# installed with --no-deps).
TESTED_LMMS_EVAL = "0.7.3"

__all__ = ["MODEL_ID", "TESTED_LMMS_EVAL", "manifest"]


def manifest() -> Any:
    """The ``lmms_eval.models`` entry point: a ``ModelManifest`` for the model id ``ov2``.

    The chat class is the default; ``--force_simple`` picks the simple one, which serves
    ``loglikelihood`` / ``multiple_choice`` tasks (lmms-eval builds those only for simple models).
    """
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(
        model_id=MODEL_ID,
        chat_class_path="ov2.integrations.lmms_eval.model.OV2",
        simple_class_path="ov2.integrations.lmms_eval.model.OV2Simple",
    )
