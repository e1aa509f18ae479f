"""Training: data preparation (manifest, precompute, shards, mixture) and, beside it, the trainer.

Data modules:

* :mod:`ov2.train.manifest` - read a JSONL manifest (LLaVA ``conversations`` or HF
  ``messages``) into normalized :class:`~ov2.train.manifest.Sample` objects; bad lines are
  skipped and counted by reason.
* :mod:`ov2.train.precompute` - tokenize every video of a manifest once into WebDataset-style
  tar shards plus ``index.json`` (process pool or Ray; resumable, atomic).
* :mod:`ov2.train.shards` - read a precomputed directory in order or by index.
* :mod:`ov2.train.mixture` - per-sample weighted sampling over named sources, deterministic in
  (seed, epoch, rank), resumable from a cursor.

Every module imports its heavy dependencies lazily, so ``import ov2.train`` stays light.
"""
