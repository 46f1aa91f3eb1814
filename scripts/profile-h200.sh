#!/usr/bin/env bash
# Where a step's time goes (issue 20): HYBRIDIZE_PROFILE (src/backend/profile.ts) over each piece of the 1B pipeline on
# Llama-3.2-1B shapes: find-heads (every head, 4 samples), stages 1 and 2 (layer 0) and stage 3 (f32 and mixed, with
# --recompute), 2 steps of 4 x 2048 tokens each, through scripts/real-pipeline-h200.sh; then one decode cell each of the
# teacher and its 2 % hybrid at batch 8, context 2048 (bench/decode-sweep.mjs, no prefill, 2 warm-up + 8 timed steps).
# Ends within 400 s, teacher creation included (every step bounded by a shared deadline).
# Here: `bash scripts/gpu-pack.sh`; then through the device tool, with .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/profile-h200.sh
# $OUT gets profile.tgz: profiles/<step>.json (the profile), summary.md (every profile's table, by step), steps.tsv,
# pipeline.log, decode-*.log, smi.txt.
# On a machine without a GPU, for a check of the script (a tiny teacher put where the pipeline looks for it):
#   mkdir -p /tmp/teachers && ln -sfn $PWD/fixtures/llama-tiny /tmp/teachers/llama-tiny
#   PROFILE_MODEL=llama-tiny PIPELINE_DEVICE=cpu PIPELINE_SEQ_LEN=128 PIPELINE_TOKENS=1k DECODE_CONTEXT=128 \
#     DECODE_MEMORY_GIB=1 bash scripts/profile-h200.sh
set -u
model=${PROFILE_MODEL:-llama-3.2-1b}
device=${PIPELINE_DEVICE:-webgpu}
context=${DECODE_CONTEXT:-2048}
work=/tmp/profile-work; rm -rf "$work"; mkdir -p "$work/profiles"
# The pipeline's scratch folder from an earlier call on a machine still warm: its outputs would refuse to be replaced.
rm -rf /tmp/pipeline
out=${OUT:-profile-out}; mkdir -p "$out"
start=$(date +%s)
# The pipeline's steps get the first 330 s; the two decode cells the rest.
PIPELINE_TOKENS=${PIPELINE_TOKENS:-16k} PIPELINE_SAMPLES=4 PIPELINE_DEADLINE=$((start + 330)) PROFILE_DIR=$work/profiles OUT=$work \
  bash scripts/real-pipeline-h200.sh "$model" ours

memory=${DECODE_MEMORY_GIB:-$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -1 | awk '{print $1 / 1024}')}
for kind in teacher hybrid; do
  folder=/tmp/teachers/$model; [ $kind = hybrid ] && folder=/tmp/pipeline/hybrid
  left=$((start + 395 - $(date +%s)))
  [ "$left" -lt 15 ] && { echo "decode-$kind: skipped (deadline)" | tee -a "$work/steps.tsv"; continue; }
  SECONDS=0
  HYBRIDIZE_PROFILE=$work/profiles/decode-$kind.json timeout $((left < 30 ? left : 30)) node .gpu/decode-sweep.mjs "$kind=$folder" \
    --device "$device" --contexts "$context" --min-batch 8 --max-batch 8 --steps 8 --prefill-tokens 1 --seconds 25 --memory-gib "$memory" \
    > "$work/decode-$kind.jsonl" 2> "$work/decode-$kind.log"
  printf 'decode-%s\t%s\t%s\n' "$kind" "$?" "$SECONDS" | tee -a "$work/steps.tsv"
done

node scripts/profile-summary.mjs "$work/profiles" > "$work/summary.md" 2>&1
cat "$work/summary.md"
tar czf "$out/profile.tgz" -C "$work" .
echo "profile-h200: $(( $(date +%s) - start )) s"
