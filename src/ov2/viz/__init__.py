"""ov2.viz: user-facing outputs of the tokenizer (files, figures, text reports).

* :mod:`ov2.viz.timeline`: the timeline figure (bit-cost profile, group spans, token rug) and its data.
* :mod:`ov2.viz.canvases`: canvases as PNG files (RGB-correct write/read).
* :mod:`ov2.viz.export`: everything ``ov2 tokenize`` writes (PNGs, visual_input/, tokens.csv, meta.json).
* :mod:`ov2.viz.report`: the tokenize summary text and groups table.
* :mod:`ov2.viz.packets`: the ``ov2 info`` report (packet pass facts, sparklines).
* :mod:`ov2.viz.demo`: the ``ov2 demo`` page (codec vs frames on the sample clip) and burst coverage.
* :mod:`ov2.viz.outputs`: atomic file writes and staged output directories.

Matplotlib is imported lazily with the Agg backend, so no display is needed.
"""
