"""Bridges from ov2 to other tools (optional extras; nothing here is imported by ``import ov2``).

* :mod:`ov2.integrations.lmms_eval` - ov2 as the model ``ov2`` in stock lmms-eval 0.7.x,
  and the task helpers behind ``ov2 lmms-tasks``.
"""
