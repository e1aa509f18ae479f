ov2 data jumprope --out /tmp/r9/s1/data/train --n 400 --seed 1001 --regime long --width 224 --height 128 --duration 25.0 35.0
ov2 data jumprope --out /tmp/r9/s1/data/val --n 12 --seed 1002 --regime long --width 224 --height 128 --duration 25.0 35.0
ov2 data jumprope --out /tmp/r9/s1/data/test --n 24 --seed 1003 --regime long --width 224 --height 128 --duration 25.0 35.0
ov2 data grounding --out /tmp/r9/s1/data/grounding_train --n 80 --seed 1011 --width 224 --height 128 --duration 25.0 35.0
ov2 data grounding --out /tmp/r9/s1/data/grounding_test --n 16 --seed 1013 --width 224 --height 128 --duration 25.0 35.0
ov2 data manifest --data /tmp/r9/s1/data/train --data /tmp/r9/s1/data/grounding_train --out /tmp/r9/s1/data/train.jsonl
ov2 precompute /tmp/r9/s1/data/train.jsonl --out /tmp/r9/s1/precomputed/codec_8 --backend codec --canvases 8 --candidates-per-group 24
ov2 precompute /tmp/r9/s1/data/train.jsonl --out /tmp/r9/s1/precomputed/fixed_8 --backend fixed --canvases 8 --candidates-per-group 24
ov2 precompute /tmp/r9/s1/data/train.jsonl --out /tmp/r9/s1/precomputed/frames_8 --backend frames --canvases 8
ov2 train /tmp/r9/s1/configs/codec_8_s1.yaml --out /tmp/r9/s1/runs/codec_8_s1
ov2 train /tmp/r9/s1/configs/codec_8_s1.yaml --out /tmp/r9/s1/runs/codec_8_s1 --resume
ov2 train /tmp/r9/s1/configs/fixed_8_s1.yaml --out /tmp/r9/s1/runs/fixed_8_s1
ov2 train /tmp/r9/s1/configs/frames_8_s1.yaml --out /tmp/r9/s1/runs/frames_8_s1
ov2 eval jumpscore --model /tmp/r9/s1/runs/codec_8_s1/final --data /tmp/r9/s1/data/test --backend codec --canvases 8 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/r9/s1/eval/jumpscore_test_codec_8_s1.jsonl
ov2 eval jumpscore --model /tmp/r9/s1/runs/codec_8_s1/final --data /tmp/r9/s1/data/val --backend codec --canvases 8 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/r9/s1/eval/jumpscore_val_codec_8_s1.jsonl
ov2 eval grounding --model /tmp/r9/s1/runs/codec_8_s1/final --data /tmp/r9/s1/data/grounding_test --backend codec --canvases 8 --candidates-per-group 24 --max-new-tokens 64 --out /tmp/r9/s1/eval/grounding_test_codec_8_s1.jsonl
ov2 eval jumpscore --model /tmp/r9/s1/runs/fixed_8_s1/final --data /tmp/r9/s1/data/test --backend fixed --canvases 8 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/r9/s1/eval/jumpscore_test_fixed_8_s1.jsonl
ov2 eval jumpscore --model /tmp/r9/s1/runs/fixed_8_s1/final --data /tmp/r9/s1/data/val --backend fixed --canvases 8 --candidates-per-group 24 --max-new-tokens 384 --out /tmp/r9/s1/eval/jumpscore_val_fixed_8_s1.jsonl
ov2 eval grounding --model /tmp/r9/s1/runs/fixed_8_s1/final --data /tmp/r9/s1/data/grounding_test --backend fixed --canvases 8 --candidates-per-group 24 --max-new-tokens 64 --out /tmp/r9/s1/eval/grounding_test_fixed_8_s1.jsonl
ov2 eval jumpscore --model /tmp/r9/s1/runs/frames_8_s1/final --data /tmp/r9/s1/data/test --backend frames --canvases 8 --max-new-tokens 384 --out /tmp/r9/s1/eval/jumpscore_test_frames_8_s1.jsonl
ov2 eval jumpscore --model /tmp/r9/s1/runs/frames_8_s1/final --data /tmp/r9/s1/data/val --backend frames --canvases 8 --max-new-tokens 384 --out /tmp/r9/s1/eval/jumpscore_val_frames_8_s1.jsonl
ov2 eval grounding --model /tmp/r9/s1/runs/frames_8_s1/final --data /tmp/r9/s1/data/grounding_test --backend frames --canvases 8 --max-new-tokens 64 --out /tmp/r9/s1/eval/grounding_test_frames_8_s1.jsonl
