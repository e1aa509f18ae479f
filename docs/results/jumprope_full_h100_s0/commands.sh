ov2 data jumprope --out /tmp/full/data/train --n 640 --seed 1 --regime long --width 224 --height 128 --duration 25.0 35.0 --workers 14 --quiet
ov2 data jumprope --out /tmp/full/data/val --n 16 --seed 2 --regime long --width 224 --height 128 --duration 25.0 35.0 --workers 14 --quiet
ov2 data jumprope --out /tmp/full/data/test --n 32 --seed 3 --regime long --width 224 --height 128 --duration 25.0 35.0 --workers 14 --quiet
ov2 data grounding --out /tmp/full/data/grounding_train --n 128 --seed 11 --width 224 --height 128 --duration 25.0 35.0 --workers 14 --quiet
ov2 data grounding --out /tmp/full/data/grounding_test --n 24 --seed 13 --width 224 --height 128 --duration 25.0 35.0 --workers 14 --quiet
ov2 data manifest --data /tmp/full/data/train --data /tmp/full/data/grounding_train --out /tmp/full/data/train.jsonl
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/codec_8 --backend codec --canvases 8 --candidates-per-group 24 --workers 14 --quiet
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/fixed_8 --backend fixed --canvases 8 --candidates-per-group 24 --workers 14 --quiet
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/frames_8 --backend frames --canvases 8 --workers 14 --quiet
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/codec_16 --backend codec --canvases 16 --candidates-per-group 24 --workers 14 --quiet
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/fixed_16 --backend fixed --canvases 16 --candidates-per-group 24 --workers 14 --quiet
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/frames_16 --backend frames --canvases 16 --workers 14 --quiet
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/codec_32 --backend codec --canvases 32 --candidates-per-group 24 --workers 14 --quiet
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/fixed_32 --backend fixed --canvases 32 --candidates-per-group 24 --workers 14 --quiet
ov2 precompute /tmp/full/data/train.jsonl --out /tmp/full/precomputed/frames_32 --backend frames --canvases 32 --workers 14 --quiet
ov2 train /tmp/full/configs/codec_8_s0.yaml --out /tmp/full/runs/codec_8_s0
ov2 train /tmp/full/configs/fixed_8_s0.yaml --out /tmp/full/runs/fixed_8_s0
ov2 train /tmp/full/configs/frames_8_s0.yaml --out /tmp/full/runs/frames_8_s0
ov2 train /tmp/full/configs/codec_16_s0.yaml --out /tmp/full/runs/codec_16_s0
ov2 train /tmp/full/configs/fixed_16_s0.yaml --out /tmp/full/runs/fixed_16_s0
ov2 train /tmp/full/configs/frames_16_s0.yaml --out /tmp/full/runs/frames_16_s0
ov2 train /tmp/full/configs/codec_32_s0.yaml --out /tmp/full/runs/codec_32_s0
ov2 train /tmp/full/configs/fixed_32_s0.yaml --out /tmp/full/runs/fixed_32_s0
ov2 train /tmp/full/configs/frames_32_s0.yaml --out /tmp/full/runs/frames_32_s0
ov2 eval jumpscore --model /tmp/full/runs/codec_8_s0/final --data /tmp/full/data/test --backend codec --canvases 8 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_codec_8_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/codec_8_s0/final --data /tmp/full/data/val --backend codec --canvases 8 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_codec_8_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/fixed_8_s0/final --data /tmp/full/data/test --backend fixed --canvases 8 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_fixed_8_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/fixed_8_s0/final --data /tmp/full/data/val --backend fixed --canvases 8 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_fixed_8_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/frames_8_s0/final --data /tmp/full/data/test --backend frames --canvases 8 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_frames_8_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/frames_8_s0/final --data /tmp/full/data/val --backend frames --canvases 8 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_frames_8_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/codec_16_s0/final --data /tmp/full/data/test --backend codec --canvases 16 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_codec_16_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/codec_16_s0/final --data /tmp/full/data/val --backend codec --canvases 16 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_codec_16_s0.jsonl
ov2 eval grounding --model /tmp/full/runs/codec_16_s0/final --data /tmp/full/data/grounding_test --backend codec --canvases 16 --candidates-per-group 24 --max-new-tokens 64 --out /tmp/full/eval/grounding_test_codec_16_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/fixed_16_s0/final --data /tmp/full/data/test --backend fixed --canvases 16 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_fixed_16_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/fixed_16_s0/final --data /tmp/full/data/val --backend fixed --canvases 16 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_fixed_16_s0.jsonl
ov2 eval grounding --model /tmp/full/runs/fixed_16_s0/final --data /tmp/full/data/grounding_test --backend fixed --canvases 16 --candidates-per-group 24 --max-new-tokens 64 --out /tmp/full/eval/grounding_test_fixed_16_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/frames_16_s0/final --data /tmp/full/data/test --backend frames --canvases 16 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_frames_16_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/frames_16_s0/final --data /tmp/full/data/val --backend frames --canvases 16 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_frames_16_s0.jsonl
ov2 eval grounding --model /tmp/full/runs/frames_16_s0/final --data /tmp/full/data/grounding_test --backend frames --canvases 16 --max-new-tokens 64 --out /tmp/full/eval/grounding_test_frames_16_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/codec_32_s0/final --data /tmp/full/data/test --backend codec --canvases 32 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_codec_32_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/codec_32_s0/final --data /tmp/full/data/val --backend codec --canvases 32 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_codec_32_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/fixed_32_s0/final --data /tmp/full/data/test --backend fixed --canvases 32 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_fixed_32_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/fixed_32_s0/final --data /tmp/full/data/val --backend fixed --canvases 32 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_fixed_32_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/frames_32_s0/final --data /tmp/full/data/test --backend frames --canvases 32 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_test_frames_32_s0.jsonl
ov2 eval jumpscore --model /tmp/full/runs/frames_32_s0/final --data /tmp/full/data/val --backend frames --canvases 32 --max-new-tokens 384 --out /tmp/full/eval/jumpscore_val_frames_32_s0.jsonl
