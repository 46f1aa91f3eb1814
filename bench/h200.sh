#!/usr/bin/env bash
# The GPU-machine benchmark recipe (BENCHMARKS.md says how Node and Dawn travel there): from the repo root, with
# .gl and .gpu carried and the bench bundled to .gpu/bench.mjs, inside .gpu/run.sh:
#   bash .gpu/run.sh bash bench/h200.sh [bench flags...]      (PEER_ARGS: flags for peer_torch.py)
# Kernel checks against the CPU twins first (their own process: a lost device costs only them),
# then WebGPU and PyTorch timings and the joined table. Files go to $OUT (else ./bench-out).
out=${OUT:-bench-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > "$out/smi.txt"
node .gpu/bench.mjs --device webgpu --check --filter none > /dev/null 2> "$out/checks.log"
node .gpu/bench.mjs --device webgpu --json "$@" > "$out/webgpu.json" 2> "$out/webgpu.log"
python3 bench/peer_torch.py $PEER_ARGS > "$out/peer.json" 2> "$out/peer.log"
node bench/compare.mjs "$out/webgpu.json" "$out/peer.json" > "$out/table.md"
cat "$out/smi.txt" "$out/checks.log"
grep -E 'FAILED|rror' "$out/webgpu.log" "$out/peer.log" | head -20
cat "$out/table.md"
