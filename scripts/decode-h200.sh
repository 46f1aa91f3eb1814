#!/usr/bin/env bash
# Decode throughput on the GPU machine (issue 23, point 3: the 2 % hybrid at >= 5x the teacher's tokens/s at 8k, each at
# its best batch, and the teacher at >= 0.5x the transformers peer), in one call of at most 470 s by its timeouts: a
# Llama-3.2-1B-shaped teacher with random weights, its 2 % hybrid and its pure SSM (rewrite --budget 2% / --keep 0 over a
# made-up heads ranking: speed does not depend on which heads are kept), swept over batch size at 2k, 8k and 32k
# (bench/decode-sweep.mjs, bundled to .gpu/decode-sweep.mjs by scripts/gpu-pack.sh: the largest batch that fits first,
# 8k leading, then halvings; the teacher's matrices kept in bf16 as the peer's are, the students in f32, which is all
# they load in) with mixed-precision linears (f16 weights, f32 sums) and an f16 KV cache, as `hybridize generate
# --precision mixed --kv-cache-dtype f16` decodes (DECODE_PRECISION=f32 DECODE_KV_CACHE_DTYPE=f32: the earlier rows'
# settings), and the transformers peer of the teacher (bench/peer_decode.py: static cache, bf16, SDPA, no compile) on
# the same GPU. DECODE_KERNELS=1 adds the GPU times of a decode step's linears under each matmul version
# (dev/kernels/matmul.ts, `--versions --filter`; 75 s more).
# Here: `bash scripts/gpu-pack.sh`; then through the device tool, with .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/decode-h200.sh
# Files in $OUT (4): decode.tar.gz (smi.txt, steps.tsv, decode.log with every step's output, decode-sweep.jsonl,
# peer-decode.jsonl, summary.md, profile/, profile.md, kernels.txt with DECODE_KERNELS=1), and summary.md, steps.tsv and
# profile.md beside it for a first look. summary.md: at each context every model's best tokens/s and its batch, and the
# ratios hybrid / teacher and teacher / transformers (bench/decode-summary.mjs); profile.md: the GPU time per kernel of
# one hybrid cell at 8k and its best batch. Where a step's time goes: each sweep line's encode_ms (host) and
# readback_ms (a bare read). Every step has a timeout; worst case 90 (teacher, only where it is missing) + 110 (peer,
# or the rewrites on the CPU beside it: 120) + 230 (sweep) + 30 (profile) s.
# On a machine without a GPU, for a check of the script: DECODE_TEACHER=fixtures/reference/llama-tiny DECODE_BUDGET=25%
# DECODE_DEVICE=cpu DECODE_CONTEXTS=64,256 DECODE_FIRST=256 DECODE_SECONDS=20 bash scripts/decode-h200.sh (the peer
# needs CUDA); on llvmpipe, DECODE_DEVICE=webgpu DECODE_MEMORY_GIB=1.
set -u
final=${OUT:-decode-out}; out=$final/decode; mkdir -p "$out"
root=${DECODE_ROOT:-/tmp/decode}; mkdir -p "$root"
teacher=${DECODE_TEACHER:-$root/teacher}
budget=${DECODE_BUDGET:-2%}
device=${DECODE_DEVICE:-webgpu}
contexts=${DECODE_CONTEXTS:-2048,8192,32768}
first=${DECODE_FIRST:-8192}
# Mixed linears move the students' best batch up (the f32 hybrid's was near 1,024, compute-bound): the memory model caps it.
max_batch=${DECODE_MAX_BATCH:-2048}
steps=${DECODE_STEPS:-16}
cell_seconds=${DECODE_CELL_SECONDS:-3}
seconds=${DECODE_SECONDS:-190}
peer_seconds=${PEER_SECONDS:-70}
precision=${DECODE_PRECISION:-mixed}
kv_cache_dtype=${DECODE_KV_CACHE_DTYPE:-f16}
kernel_filter=${KERNEL_FILTER:-^decode linear (q/o|down|lm head).*, (1|64|256|1024) rows}
gpu=false; command -v nvidia-smi > /dev/null && gpu=true
$gpu && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/smi.txt"
printf 'step\texit\tseconds\tpeak_gpu_mib\n' > "$out/steps.tsv"

step() {  # step NAME TIMEOUT_S COMMAND...: its output to decode.log, one row to steps.tsv (peak GPU memory by nvidia-smi)
  local name=$1 limit=$2; shift 2
  echo "== $name: $*" >> "$out/decode.log"
  local mem=/tmp/decode-mem-$name.csv smi=
  : > "$mem"
  if $gpu; then nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$mem" & smi=$!; fi
  local began=$SECONDS
  timeout "$limit" "$@" >> "$out/decode.log" 2>&1; local rc=$?
  [ -n "$smi" ] && { kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null; }
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - began))" "$(sort -n "$mem" | tail -1)" | tee -a "$out/steps.tsv"
}

[ -d "$teacher" ] || step teacher 90 python3 scripts/real-teacher.py "$teacher" llama-3.2-1b --no-reference

# A heads ranking without find-heads: scores that spread the kept heads over the layers, as a real ranking does.
python3 - "$teacher" "$root/heads.json" <<'EOF'
import json, sys
teacher, path = sys.argv[1:]
cfg = json.load(open(f"{teacher}/config.json"))
layers, heads = cfg["num_hidden_layers"], cfg["num_attention_heads"]
scores = {f"{l}-{h}": ((l * heads + h) * 2654435761 % 2**32) / 2**32 for l in range(layers) for h in range(heads)}
json.dump({"model": {"id": teacher, "layers": layers, "heads": heads}, "selected": [], "scores": scores}, open(path, "w"))
EOF

# The rewrites run on the CPU while the peer has the GPU (16 cores: neither waits on the other).
hz=(node bin/run.js)
step rewrites 120 bash -c "${hz[*]} rewrite '$teacher' --heads '$root/heads.json' --budget '$budget' --out '$root/hybrid' --force --quiet &
  ${hz[*]} rewrite '$teacher' --heads '$root/heads.json' --keep 0 --out '$root/ssm' --force --quiet & wait" &
rewrites=$!
if $gpu && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  step peer $((peer_seconds + 40)) bash -c "python3 bench/peer_decode.py '$teacher' --contexts $contexts --first $first --max-batch $max_batch \
    --steps $steps --cell-seconds $cell_seconds --seconds $peer_seconds > '$out/peer-decode.jsonl'"
else
  echo "peer: skipped (no CUDA PyTorch here)" | tee -a "$out/decode.log"
fi
wait $rewrites

# A decode step's linears under each matmul version: GPU times (timestamp queries), one table in kernels.txt.
[ "${DECODE_KERNELS:-0}" = 1 ] && [ -f .gpu/bench.mjs ] && step kernels 75 bash -c "node .gpu/bench.mjs --device $device --size large --versions --filter '$kernel_filter' > '$out/kernels.txt'"

# WebGPU does not report the device's memory: nvidia-smi's total, or DECODE_MEMORY_GIB (llvmpipe).
memory=()
if [ -n "${DECODE_MEMORY_GIB:-}" ]; then memory=(--memory-gib "$DECODE_MEMORY_GIB")
elif $gpu; then memory=(--memory-gib "$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1 | awk '{print $1 / 1024}')"); fi
step sweep $((seconds + 40)) bash -c "node .gpu/decode-sweep.mjs 'teacher=$teacher' 'hybrid-$budget=$root/hybrid' 'ssm=$root/ssm' --device $device \
  --contexts $contexts --first $first --max-batch $max_batch --steps $steps --cell-seconds $cell_seconds --seconds $seconds --dtype auto \
  --precision $precision --kv-cache-dtype $kv_cache_dtype ${memory[*]} \
  > '$out/decode-sweep.jsonl'"
node bench/decode-summary.mjs "$out/decode-sweep.jsonl" "$out/peer-decode.jsonl" | tee "$out/summary.md"

# Where the hybrid's step goes at the first context and its best batch there: one profiled cell (HYBRIDIZE_PROFILE, GPU
# time per kernel; a timed pass a dispatch makes its steps slower than the sweep's, so read shares, not speed).
context1=${first%%,*}
best=$(node -e 'const [file, model, context] = process.argv.slice(1); const lines = require("fs").readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).filter((l) => l.model === model && l.context === +context && l.status === "ok"); if (lines.length) console.log(lines.reduce((a, l) => (l.decode_tok_s > a.decode_tok_s ? l : a)).batch)' \
  "$out/decode-sweep.jsonl" "hybrid-$budget" "$context1")
if [ -n "$best" ]; then
  mkdir -p "$out/profile"
  step profile 30 env HYBRIDIZE_PROFILE="$out/profile/decode-hybrid.json" node .gpu/decode-sweep.mjs "hybrid-$budget=$root/hybrid" --device $device \
    --contexts "$context1" --min-batch "$best" --max-batch "$best" --steps 4 --prefill-tokens 1 --seconds 25 --dtype auto \
    --precision $precision --kv-cache-dtype $kv_cache_dtype ${memory[*]}
  node scripts/profile-summary.mjs "$out/profile" > "$out/profile.md" 2>&1
fi
cp "$out/summary.md" "$out/steps.tsv" "$final/"
[ -f "$out/profile.md" ] && cp "$out/profile.md" "$final/"
tar czf "$final/decode.tar.gz" -C "$final" decode && rm -rf "$out"
cat "$final/steps.tsv"
