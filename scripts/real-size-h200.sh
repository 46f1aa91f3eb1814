#!/usr/bin/env bash
# Real-size teachers on the GPU machine: a model of the real architecture with random bf16 weights
# (scripts/real-teacher.py, transformers), its float32 reference forward, then hybridize's forward of the same
# checkpoint on WebGPU, compared (scripts/compare-outputs.py), with wall time, host RSS and peak GPU memory.
# Here: `bash scripts/gpu-pack.sh`; then through the device tool, with .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/real-size-h200.sh llama-3.2-1b [seq]
# Files go to $OUT: teacher.log, forward-<model>.log, compare-<model>.json, gpu-mem-<model>.csv.
# FORWARD_FLAGS are passed to `hybridize forward` (e.g. FORWARD_FLAGS="--dtype f32": the teacher is bf16, so
# --dtype auto holds its weight matrices in bf16); a run with them names its files <model>-<flags>.
set -u
model=${1:-llama-3.2-1b}; seq=${2:-2048}
read -r -a fwd_flags <<< "${FORWARD_FLAGS:-}"
tag=$model$(printf %s "${FORWARD_FLAGS:-}" | tr -cs 'A-Za-z0-9' '-')
out=${OUT:-real-out}; mkdir -p "$out"
dir=/tmp/teachers/$model
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$out/smi.txt"
tok=()
case $model in llama*) mkdir -p /tmp/llama3-tok && tar xJf .gpu/llama3-tokenizer.tar.xz -C /tmp/llama3-tok && tok=(--tokenizer /tmp/llama3-tok);; esac
python3 scripts/real-teacher.py "$dir" "$model" --seq "$seq" "${tok[@]}" 2>&1 | grep -v 'it/s]' | tee -a "$out/teacher.log"
node bin/run.js inspect "$dir" 2>&1 | tee -a "$out/forward-$tag.log"
# Peak GPU memory of the forward: nvidia-smi sampled every 100 ms (the process is alone on the GPU).
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$out/gpu-mem-$tag.csv" & smi=$!
timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -v)
SECONDS=0; "${timer[@]}" node bin/run.js forward "$dir" --input "$dir/reference.safetensors" --output /tmp/ours-$tag.safetensors \
  --device webgpu ${fwd_flags[@]+"${fwd_flags[@]}"} > >(tee -a "$out/forward-$tag.log") 2> >(grep -v 'it/s]' | tee -a "$out/forward-$tag.log" >&2)
echo "forward wall time: $SECONDS s" | tee -a "$out/forward-$tag.log"; kill $smi
echo "peak GPU memory (MiB, nvidia-smi): $(sort -n "$out/gpu-mem-$tag.csv" | tail -1)" | tee -a "$out/forward-$tag.log"
python3 scripts/compare-outputs.py /tmp/ours-$tag.safetensors "$dir/reference.safetensors" --label "$tag" | tee "$out/compare-$tag.json"
