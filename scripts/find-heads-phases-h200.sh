#!/usr/bin/env bash
# Where find-heads' wall clock goes at Llama-3.2-1B shapes (issue 20): the teacher made as real-pipeline-h200.sh makes
# it, then `find-heads --precision mixed` as that script runs it, with every progress line stamped with the seconds
# since the command started. The phases read off the stamps: device and weights up to "attention patterns", the
# pattern pass up to "ablating each", the ablation pass up to "ablating the N selected", the selection's check and the
# files up to "wrote". Run twice, so the second run's load comes from the page cache as the peer's from_pretrained does.
# Here: bash scripts/gpu-pack.sh. There, with .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/find-heads-phases-h200.sh
# $OUT gets find-heads-phases.log. On a machine without a GPU, for a check: MODEL_DIR=fixtures/llama-tiny DEVICE=cpu.
set -u
model=llama-3.2-1b; teacher=${MODEL_DIR:-/tmp/teachers/$model}; device=${DEVICE:-webgpu}
out=${OUT:-phases-out}; mkdir -p "$out"; log=$out/find-heads-phases.log
if [ ! -d "$teacher" ]; then
  mkdir -p /tmp/llama3-tok && tar xJf .gpu/llama3-tokenizer.tar.xz -C /tmp/llama3-tok
  python3 scripts/real-teacher.py "$teacher" "$model" --tokenizer /tmp/llama3-tok --no-reference > "$out/teacher.log" 2>&1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$log" 2>&1
stamp='const t0 = Date.now(); require("readline").createInterface({input: process.stdin}).on("line", (l) => console.log(((Date.now() - t0) / 1000).toFixed(2).padStart(7), l))'
for run in 1 2; do
  echo "== run $run: find-heads $teacher --samples 8 --pairs 10 --budget 2% --selection aggregate --precision mixed" >> "$log"
  rm -rf /tmp/phases
  node bin/run.js find-heads "$teacher" --samples 8 --pairs 10 --budget 2% --selection aggregate --precision mixed \
    --out /tmp/phases/heads.json --device "$device" 2>&1 >/dev/null | node -e "$stamp" | grep -v '^ *[0-9.]* *[0-9 ]*[0-9]\+  ' >> "$log"
done
cat "$log"
