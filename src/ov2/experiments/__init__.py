"""End-to-end experiments that train and evaluate models with ov2 (``ov2 experiment ...``)."""
