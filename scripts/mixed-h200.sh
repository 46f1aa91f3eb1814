#!/usr/bin/env bash
# Mixed precision against f32 at Llama-3.2-1B shapes on the GPU machine (issue 20), in one call of under 480 s:
#   1. the teacher (scripts/real-teacher.py, random bf16 weights) and its forward with f16 matmuls and f32 sums
#      (`forward --precision mixed`) against transformers' float32 reference over 2,048 positions: relative error
#      and next-token argmax agreement (scripts/real-size-h200.sh with FORWARD_FLAGS);
#   2. its 2 % hybrid (find-heads, rewrite: scripts/gpu-steps.sh);
#   3. stage 1 (layer 0), stage 2 (block 0) and stage 3 (the whole model), batch 1 x 2048, a fixed number of steps,
#      once in f32 and once with --precision mixed, same data and seed, each run's metrics.jsonl kept.
# Here: `bash scripts/gpu-pack.sh`; then through the device tool, with .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/mixed-h200.sh
# STEPS="20 20 10" sets the steps of stages 1, 2, 3. Everything goes into one file, $OUT/mixed.tar.gz: smi.txt,
# teacher.log, forward-*.log, compare-*.json (step 1), pipeline.log, steps.tsv, metrics-f32.jsonl, metrics-mixed.jsonl.
# To try its logic on the CPU: TEACHER=fixtures/llama-tiny SEQ=64 DEVICE=cpu STEPS="3 3 3" OUT=/tmp/x bash scripts/mixed-h200.sh
# (TEACHER given: step 1 is skipped). Then, here: npx vite-node scripts/plot-precision.ts -- --f32 metrics-f32.jsonl --mixed metrics-mixed.jsonl --out DIR
set -u
model=llama-3.2-1b; seq=${SEQ:-2048}; device=${DEVICE:-webgpu}
read -r s1 s2 s3 <<< "${STEPS:-20 20 10}"
final=${OUT:-mixed-out}; out=/tmp/mixed-results; root=/tmp/mixed; teacher=${TEACHER:-/tmp/teachers/$model}
rm -rf "$out" "$root"; mkdir -p "$out" "$root" "$final"
# Every step below is bounded: 110 + 80 + 60 + 2 x 110 = 470 s at most, then the tarball. A distill run writes each
# step's metrics before its checkpoints, so one stopped in its final save still leaves every step's line.
if [ -z "${TEACHER:-}" ]; then
  SECONDS=0
  OUT=$out FORWARD_FLAGS="--precision mixed" timeout 110 bash scripts/real-size-h200.sh "$model" "$seq"
  echo "teacher and f16-compute forward: $SECONDS s" | tee -a "$out/pipeline.log"
fi
source scripts/gpu-steps.sh
hybrid_of "$teacher" "$root" 80
tokens=$((s1 * seq)),$((s2 * seq)),$((s3 * seq))
for precision in f32 mixed; do
  step "distill-$precision" 110 node bin/run.js distill "$root/hybrid" --teacher "$teacher" --data brown --seq-len "$seq" --batch-size 1 \
    --stage 1,2,3 --layers 0 --tokens "$tokens" --precision "$precision" --save-every 1000 --out "$root/$precision" --device "$device"
  cp "$root/$precision/metrics.jsonl" "$out/metrics-$precision.jsonl"
  # Its checkpoints and student (about 30 GB) would leave the next run no disk.
  rm -rf "$root/$precision"
done
cat "$out/steps.tsv"
tar czf "$final/mixed.tar.gz" -C "$out" .
