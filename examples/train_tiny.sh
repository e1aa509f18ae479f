#!/usr/bin/env bash
# Quick start: small data with `ov2 data`, precompute it, train the tiny stage-4 preset.
#
#   examples/train_tiny.sh DATA_DIR OUT_DIR [NPROC] [--resume]
#
# - DATA_DIR: generated clips, images, manifests and precomputed shards (kept and reused).
# - OUT_DIR:  the run: checkpoint-*/, train_log.jsonl (one line per optimiser step), loss_curve.png,
#             final/ (a checkpoint `ov2 chat` and `ov2 eval` load).
# - NPROC:    training processes (CPU: gloo; GPU: NCCL). The global batch stays the same whatever
#             NPROC is (gradient accumulation makes up the difference), so 1 and 2 processes log
#             the same losses.
# - --resume: continue a killed run from its last complete checkpoint.
#
# Every step is resumable, so re-running the script after a kill picks up where it stopped.
# Set OV2="python -m ov2" (or a path) to use another ov2; STEPS overrides the step count (default 30).
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
DATA=$1
OUT=$2
NPROC=${3:-1}
RESUME=""
for arg in "$@"; do
    if [ "$arg" = "--resume" ]; then RESUME="--resume"; fi
done
case "$NPROC" in ''|*[!0-9]*) NPROC=1 ;; esac
OV2=${OV2:-ov2}
STEPS=${STEPS:-30}
SEED=${SEED:-1}

echo "== data: $DATA"
$OV2 data jumprope --out "$DATA/clips" --n 6 --width 256 --height 144 --duration 6 9 --seed "$SEED" --quiet
$OV2 data grounding --out "$DATA/clips" --n 4 --width 256 --height 144 --duration 6 9 --seed "$SEED" --quiet
$OV2 data manifest --data "$DATA/clips" --out "$DATA/videos.jsonl"
$OV2 data images --out "$DATA/images" --n 16 --size 112 --seed "$SEED" --quiet

echo "== precompute: $DATA/precomputed"
$OV2 precompute "$DATA/videos.jsonl" --out "$DATA/precomputed/codec_8" --backend codec --canvases 8
$OV2 precompute "$DATA/videos.jsonl" --out "$DATA/precomputed/frames_8" --backend frames --canvases 8
$OV2 precompute "$DATA/images/images.jsonl" --out "$DATA/precomputed/images" --backend frames --canvases 4

echo "== train stage4_tiny with $NPROC process(es): $OUT"
TRAIN_ARGS=(train stage4_tiny --out "$OUT" --data-root "$DATA/precomputed" --max-steps "$STEPS" $RESUME)
if [ "$NPROC" -gt 1 ]; then
    # torchrun runs `python -m ov2` in every process; gloo on CPU, NCCL on GPUs.
    PY=${PYTHON:-$(command -v python3)}
    $PY -m torch.distributed.run --standalone --nproc-per-node "$NPROC" -m ov2 "${TRAIN_ARGS[@]}"
else
    $OV2 "${TRAIN_ARGS[@]}"
fi
