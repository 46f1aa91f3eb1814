#!/usr/bin/env bash
# Stage 3 tokens/s of the 1B hybrid (Llama-3.2-1B shape, 2 % of heads kept) on 1, 2, 4 and 8 GPUs of one host with
# `distill --devices N` (data-parallel: one replica per device, gradients summed on the host), for BENCHMARKS.md's
# scaling table, and which GPUs the replicas landed on: dawn.node picks an adapter by name, so whether N devices
# opened in one process are N different GPUs is measured here (per-GPU memory while each run is at work), not assumed.
# Here: `bash scripts/gpu-pack.sh`; then on a multi-GPU kind (nvidia-h100-x8 or smaller), .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/multi-gpu-h200.sh [DEVICE_COUNTS...]     (default: 1 2 4 8)
# The teacher, heads and hybrid are made first when missing (/tmp/multi-gpu, kept while the machine stays warm), so
# `bash scripts/multi-gpu-h200.sh 1 2` and then `bash scripts/multi-gpu-h200.sh 4 8` fit two 10-minute calls.
# Files go to $OUT as one multi-gpu.tar.gz: steps.tsv (devices, exit, seconds, tokens/s of the steps after the
# first, efficiency against 1 device), gpus-N.csv (each GPU's peak memory in MiB during the N-device run),
# metrics-N.jsonl, multi-gpu.log.
# Checked on a CPU-only machine with a tiny pair: MULTI_GPU_TEACHER, MULTI_GPU_HYBRID (skip making them),
# MULTI_GPU_DEVICE=cpu, MULTI_GPU_BATCH, MULTI_GPU_SEQ and MULTI_GPU_COUNT (devices to allow without nvidia-smi).
set -u
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(1 2 4 8)
out=${OUT:-multi-gpu-out}; mkdir -p "$out"
res=/tmp/multi-gpu-results; mkdir -p "$res"
root=/tmp/multi-gpu; log=$res/multi-gpu.log
teacher=${MULTI_GPU_TEACHER:-$root/llama-3.2-1b}; hybrid=${MULTI_GPU_HYBRID:-$root/hybrid}; device=${MULTI_GPU_DEVICE:-webgpu}
mkdir -p "$root"
smi() { command -v nvidia-smi > /dev/null && nvidia-smi "$@"; }
gpus=$(smi --query-gpu=index --format=csv,noheader | wc -l); [ "$gpus" -gt 0 ] || gpus=${MULTI_GPU_COUNT:-1}
smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader | tee "$res/smi.txt"
hz=(node bin/run.js)
# The adapters Vulkan offers Dawn, by the names dawn.node chooses among (it lists them when asked for one it lacks).
timeout 60 node --input-type=module -e "import {create} from 'webgpu'; try { console.log(String(await create(['backend=vulkan', 'adapter=hybridize-list-adapters']).requestAdapter())) } catch (e) { console.log(String(e)) }" > "$res/adapters.txt" 2>&1
cat "$res/adapters.txt"

if [ ! -d "$teacher" ]; then
  mkdir -p /tmp/llama3-tok && tar xJf .gpu/llama3-tokenizer.tar.xz -C /tmp/llama3-tok
  timeout 200 python3 scripts/real-teacher.py "$teacher" llama-3.2-1b --tokenizer /tmp/llama3-tok --no-reference >> "$log" 2>&1
fi
[ -s "$root/heads.json" ] || [ -d "$hybrid" ] || timeout 150 "${hz[@]}" find-heads "$teacher" --samples 8 --pairs 10 --budget 2% --selection aggregate --out "$root/heads.json" --device "$device" >> "$log" 2>&1
[ -d "$hybrid" ] || timeout 60 "${hz[@]}" rewrite "$teacher" --heads "$root/heads.json" --budget 2% --mixer discrete-mamba2 --out "$hybrid" >> "$log" 2>&1
[ -e "$res/steps.tsv" ] || printf 'devices\texit\tseconds\ttokens_per_s\tefficiency\n' > "$res/steps.tsv"

# 4 x 2048 tokens a device, 2 micro-batches a step (one gradient reduction per 16k tokens a device), 4 steps.
steps=4; batch=${MULTI_GPU_BATCH:-4}; seq=${MULTI_GPU_SEQ:-2048}; accum=2
for n in "${counts[@]}"; do
  if [ "$n" -gt "$gpus" ]; then echo "skipping $n devices: this host has $gpus GPUs" | tee -a "$log"; continue; fi
  run=$root/s3-$n; rm -rf "$run"
  echo "== $n devices" >> "$log"
  smi --query-gpu=index,memory.used --format=csv,noheader,nounits -lms 200 > "$res/smi-$n.raw" & smipid=$!
  SECONDS=0
  timeout $((150 + 60 * n)) "${hz[@]}" distill "$hybrid" --teacher "$teacher" --data brown --stage 3 --devices "$n" \
    --batch-size $batch --seq-len $seq --grad-accum $accum --recompute --tokens $((steps * n * batch * seq * accum)) \
    --save-every 1000 --out "$run" --device "$device" >> "$log" 2>&1
  rc=$?; s=$SECONDS; kill $smipid 2>/dev/null; wait $smipid 2>/dev/null
  # Peak memory per GPU during the run: the replicas' spread over the GPUs.
  awk -F', *' '{if ($2 > m[$1]) m[$1] = $2} END {for (g in m) print g "," m[g]}' "$res/smi-$n.raw" | sort -n > "$res/gpus-$n.csv"
  cp "$run/metrics.jsonl" "$res/metrics-$n.jsonl" 2>/dev/null
  # Tokens/s over the steps after the first (which carries the pipelines' compilation).
  rate=$(node -e '
    const fs = require("fs"); const f = process.argv[1];
    const ms = fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n").filter(Boolean).map(JSON.parse).slice(1) : [];
    const t = ms.reduce((a, m) => a + m.tokens / m.step, 0), s = ms.reduce((a, m) => a + m.tokens / m.step / m.tokens_per_s, 0);
    console.log(ms.length ? (t / s).toFixed(0) : "NA")' "$run/metrics.jsonl")
  base=$(awk -F'\t' '$1 == 1 {print $4}' "$res/steps.tsv" | tail -1)
  [ "$n" = 1 ] && base=$rate
  eff=$(node -e 'const [r, b, n] = process.argv.slice(1).map(Number); console.log(r > 0 && b > 0 ? (r / (b * n)).toFixed(3) : "NA")' "$rate" "${base:-0}" "$n")
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$rc" "$s" "$rate" "$eff" | tee -a "$res/steps.tsv"
  echo "peak MiB per GPU:" $(tr '\n' ' ' < "$res/gpus-$n.csv") | tee -a "$log"
  rm -rf "$run"
done
tail -n 20 "$log"
tar czf "$out/multi-gpu.tar.gz" -C "$res" .
