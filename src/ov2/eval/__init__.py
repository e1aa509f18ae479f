"""Evaluation: JumpScore and temporal-grounding metrics, the model-free evidence check, model runs.

* :mod:`ov2.eval.jumpscore` - answer parsing and start-time mAP (lmms-eval parity).
* :mod:`ov2.eval.grounding` - span parsing, IoU, R1@m and mIoU.
* :mod:`ov2.eval.evidence` - share of annotated events with a token near them, per backend and budget.
* :mod:`ov2.eval.runner` - resumable model runs over a jsonl benchmark.
* :mod:`ov2.eval.points` - point, track and trace answer formats (parse and write).
* :mod:`ov2.eval.masks` / :mod:`ov2.eval.tracking` - DAVIS J, F, J&F; point-track P/R/F1 and HOTA.
* :mod:`ov2.eval.pointing` - points-in-mask accuracy and Hungarian point P/R/F1.
* :mod:`ov2.eval.traces` - trajectory errors (endpoint, discrete Frechet, displacement, depth).
* :mod:`ov2.eval.sam2_track` - points -> per-frame masks with SAM2 (optional extra).
"""
