#!/usr/bin/env bash
# Real-size teachers on the GPU machine: a model of the real architecture with random bf16 weights
# (scripts/real-teacher.py, transformers), its float32 reference forward, then hybridize's forward of the same
# checkpoint on WebGPU, compared (scripts/compare-outputs.py), with wall time, host RSS and peak GPU memory.
# Here: `bash scripts/gpu-pack.sh`; then through the device tool, with .gl, .gpu and dist carried:
#   source scripts/gpu-env.sh; bash scripts/real-size-h200.sh llama-3.2-1b [seq]
# Files go to $OUT: teacher.log, forward-<model>.log, compare-<model>.json, gpu-mem-<model>.csv.
set -u
model=${1:-llama-3.2-1b}; seq=${2:-2048}
out=${OUT:-real-out}; mkdir -p "$out"
dir=/tmp/teachers/$model
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$out/smi.txt"
tok=()
case $model in llama*) mkdir -p /tmp/llama3-tok && tar xJf .gpu/llama3-tokenizer.tar.xz -C /tmp/llama3-tok && tok=(--tokenizer /tmp/llama3-tok);; esac
python3 scripts/real-teacher.py "$dir" "$model" --seq "$seq" "${tok[@]}" 2>&1 | grep -v 'it/s]' | tee -a "$out/teacher.log"
node bin/run.js inspect "$dir" 2>&1 | tee -a "$out/forward-$model.log"
# Peak GPU memory of the forward: nvidia-smi sampled every 100 ms (the process is alone on the GPU).
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$out/gpu-mem-$model.csv" & smi=$!
timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -v)
SECONDS=0; "${timer[@]}" node bin/run.js forward "$dir" --input "$dir/reference.safetensors" --output /tmp/ours-$model.safetensors \
  --device webgpu > >(tee -a "$out/forward-$model.log") 2> >(grep -v 'it/s]' | tee -a "$out/forward-$model.log" >&2)
echo "forward wall time: $SECONDS s" | tee -a "$out/forward-$model.log"; kill $smi
echo "peak GPU memory (MiB, nvidia-smi): $(sort -n "$out/gpu-mem-$model.csv" | tail -1)" | tee -a "$out/forward-$model.log"
python3 scripts/compare-outputs.py /tmp/ours-$model.safetensors "$dir/reference.safetensors" --label "$model f32" | tee "$out/compare-$model.json"
