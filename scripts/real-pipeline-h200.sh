#!/usr/bin/env bash
# The pipeline at real size on the GPU machine, each step timed with its peak GPU memory, each bounded by a timeout
# so one failing step still leaves the others' figures: find-heads over every head, rewrite at 2 %, each MOHAWK stage
# for a few steps at 4 x 2048 tokens, then the PyTorch peer of the same steps (bench/peer_mohawk.py).
# Here: `bash scripts/gpu-pack.sh`; then through the device tool, with .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/real-pipeline-h200.sh [llama-3.2-1b] [ours|peer|all]
# (ours and peer each fit one 10-minute call; the teacher is remade, identically, by each.)
# Files go to $OUT: pipeline.log (every step's output), steps.tsv (step, exit, seconds, peak MiB), metrics-*.jsonl,
# peer-mohawk.json.
# Knobs (scripts/profile-h200.sh sets them): PIPELINE_TOKENS (each stage's tokens, 24k), PIPELINE_SAMPLES (find-heads'
# samples, 8), PIPELINE_DEADLINE (epoch seconds: no step runs past it), PROFILE_DIR (each step's HYBRIDIZE_PROFILE
# there, as <step>.json); PIPELINE_STAGES (the distill steps to run, "s1 s2 s3m s3": stage 1 and 2 mixed, stage 3 mixed
# and f32) and PEER_SKIP (the peer's rows to skip: stage1,stage2,stage3,find-heads), to fit ours and the peer into one
# call; for a check on a machine without a GPU, PIPELINE_DEVICE (webgpu) and PIPELINE_SEQ_LEN (2048).
set -u
model=${1:-llama-3.2-1b}; parts=${2:-all}
tokens=${PIPELINE_TOKENS:-24k}; samples=${PIPELINE_SAMPLES:-8}; deadline=${PIPELINE_DEADLINE:-}; profiles=${PROFILE_DIR:-}
device=${PIPELINE_DEVICE:-webgpu}; seq_len=${PIPELINE_SEQ_LEN:-2048}
stages=" ${PIPELINE_STAGES:-s1 s2 s3m s3} "; peer_skip=${PEER_SKIP:-}
out=${OUT:-real-out}; mkdir -p "$out"
root=/tmp/pipeline; teacher=/tmp/teachers/$model
mkdir -p "$root" /tmp/llama3-tok && tar xJf .gpu/llama3-tokenizer.tar.xz -C /tmp/llama3-tok
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$out/smi.txt"
[ -d "$teacher" ] || python3 scripts/real-teacher.py "$teacher" "$model" --tokenizer /tmp/llama3-tok --no-reference 2>&1 | tee -a "$out/pipeline.log"
source scripts/gpu-steps.sh

hz=(node bin/run.js)
if [ "$parts" != peer ]; then
  hybrid_of "$teacher" "$root"
  # find-heads again with mixed-precision linears, as the peer ablates in bf16 autocast (its selection is not used).
  step find-heads-mixed 120 "${hz[@]}" find-heads "$teacher" --samples "$samples" --pairs 10 --budget 2% --selection aggregate --precision mixed --out "$root/heads-mixed.json" --device "$device"
  common=(--teacher "$teacher" --data brown --seq-len "$seq_len" --save-every 1000 --tokens "$tokens")
  # Stages 1 and 2 in mixed precision, as the peer runs them in bf16 autocast; stage 3 both ways, mixed first.
  [[ $stages == *" s1 "* ]] && step stage1-mixed 80 "${hz[@]}" distill "$root/hybrid" "${common[@]}" --stage 1 --layers 0 --batch-size 4 --precision mixed --out "$root/s1" --device "$device"
  [[ $stages == *" s2 "* ]] && step stage2-mixed 80 "${hz[@]}" distill "$root/hybrid" "${common[@]}" --stage 2 --layers 0 --batch-size 4 --precision mixed --out "$root/s2" --device "$device"
  [[ $stages == *" s3m "* ]] && step stage3-mixed 120 "${hz[@]}" distill "$root/hybrid" "${common[@]}" --stage 3 --batch-size 4 --recompute --precision mixed --out "$root/s3m" --device "$device"
  [[ $stages == *" s3 "* ]] && step stage3 120 "${hz[@]}" distill "$root/hybrid" "${common[@]}" --stage 3 --batch-size 4 --recompute --out "$root/s3" --device "$device"
  for s in s1 s2 s3 s3m; do cp "$root/$s/metrics.jsonl" "$out/metrics-$s.jsonl" 2>/dev/null; done
fi
if [ "$parts" != ours ]; then
  # The peer's find-heads rows at our prompts' shape: 8 kv-retrieval prompts at 10 pairs are 60-67 tokens with Llama-3's
  # tokenizer (one row each; ours runs more rows per prompt where a random teacher leaves every choice in play).
  step peer 400 bash -c "python3 bench/peer_mohawk.py $teacher --batch 4 --seq 2048 --heads-samples $samples --heads-seq 64 ${peer_skip:+--skip $peer_skip} > $out/peer-mohawk.json"
fi
cat "$out/steps.tsv"
