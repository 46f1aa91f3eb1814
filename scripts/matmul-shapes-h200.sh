#!/usr/bin/env bash
# Issue 20 on the GPU machine, in one call of under 200 s: the three matmul_f16 shapes of the stage-3 profile
# (experiments/real-size/2026-12-07-h100-profile) that do not fill the 128x128 tensor-core tiles, each timed
# `as given` (the kernel alone at that shape: the CUDA-core path, what ran before) and as mixed precision runs
# it now (bench/matmul-shapes.ts: A packed padded to whole tiles, the staged kernel, the result cropped), next
# to PyTorch's bf16 matmul of the same shapes (bench/peer_torch.py --matmul-shapes-only); the kernel checks
# (--check: every f16 version and the padded operands against the CPU) first, in their own process.
# Here: `bash scripts/gpu-pack.sh` (bundles bench/run.ts into .gpu/bench.mjs); then through the device tool,
# with .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/matmul-shapes-h200.sh
# One file comes back, $OUT/matmul-shapes.tar.gz: smi.txt, checks.log, webgpu.json/.log, peer.json/.log, table.md.
# To try its logic on the CPU (small shapes, no peer): DEVICE=cpu BENCH="npx vite-node bench/run.ts --" OUT=/tmp/x bash scripts/matmul-shapes-h200.sh
set -u
device=${DEVICE:-webgpu}; bench=${BENCH:-node .gpu/bench.mjs}
final=${OUT:-matmul-shapes-out}; out=/tmp/matmul-shapes-results
rm -rf "$out"; mkdir -p "$out" "$final"
filter='^matmul f16 (as given )?(in_proj|lm head)'
# Bounded: 60 + 100 + 30 = 190 s at most, then the table and the tarball.
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > "$out/smi.txt" 2>&1
timeout 60 $bench --device "$device" --check --filter none > /dev/null 2> "$out/checks.log"
echo "checks: exit $?" >> "$out/checks.log"
size=$([ "$device" = cpu ] && echo small || echo large)
timeout 100 $bench --device "$device" --size "$size" --json --filter "$filter" > "$out/webgpu.json" 2> "$out/webgpu.log"
echo "bench: exit $?" >> "$out/webgpu.log"
if [ "$device" != cpu ]; then
  timeout 30 python3 bench/peer_torch.py --matmul-shapes-only > "$out/peer.json" 2> "$out/peer.log"
  echo "peer: exit $?" >> "$out/peer.log"
else
  echo '{"device": "none (CPU try-out)", "torch": "-", "results": []}' > "$out/peer.json"
fi
node bench/compare.mjs "$out/webgpu.json" "$out/peer.json" > "$out/table.md" 2>> "$out/webgpu.log"
grep -E 'FAIL|rror' "$out/checks.log" "$out/webgpu.log" "$out/peer.log" 2>/dev/null | head -20
cat "$out/table.md"
tar czf "$final/matmul-shapes.tar.gz" -C "$out" .
