#!/usr/bin/env bash
# The reference test/eval/mc-heldout-reference.test.ts checks `hybridize eval --tasks mc:` against:
# fixtures/tasks/mc-heldout-12.jsonl scored by transformers the lm-evaluation-harness way
# (scripts/mc-reference.py) on both fixture teachers. Needs python3 with torch and transformers (the
# GPU machine has them; it computes on the CPU, in seconds; Node is not needed). From the repo root:
#   bash scripts/mc-reference-h200.sh
# writes $OUT/mc-reference.log and $OUT/mc-reference.tar (fixtures/reference/mc-heldout-12/*.json);
# here: tar xf <files_at>/mc-reference.tar, and commit fixtures/reference/mc-heldout-12/.
set -euo pipefail
out=${OUT:-mc-reference-out}
mkdir -p "$out"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
timeout 300 python3 scripts/mc-reference.py --task fixtures/tasks/mc-heldout-12.jsonl \
  --out fixtures/reference/mc-heldout-12 fixtures/llama-tiny fixtures/phi-tiny 2>&1 | tee "$out/mc-reference.log"
tar cf "$out/mc-reference.tar" fixtures/reference/mc-heldout-12
