"""Evaluation: JumpScore and temporal-grounding metrics, the model-free evidence check, model runs.

* :mod:`ov2.eval.jumpscore` - answer parsing and start-time mAP (lmms-eval parity).
* :mod:`ov2.eval.grounding` - span parsing, IoU, R1@m and mIoU.
* :mod:`ov2.eval.evidence` - share of annotated events with a token near them, per backend and budget.
* :mod:`ov2.eval.runner` - resumable model runs over a jsonl benchmark.
"""
