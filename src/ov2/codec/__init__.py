"""ov2.codec: the codec-stream tokenizer's algorithm (bit-cost, cuts, groups, candidates, saliency, packing)."""

# Bumped whenever the frames or blocks the tokenizer selects can change, so caches of
# tokenizer results (the evidence check's) are not reused across algorithm changes.
ALGORITHM_VERSION = 2
