#!/usr/bin/env bash
# The papers' curves at small scale on fixtures/phi-natural (issue 21, point 3; scripts/natural-curves.ts):
# every student distilled on the one GPU, JOBS processes at once, at one token budget fitted to the call's
# clock, each scored as it finishes, then the charts (scripts/plot-natural-curves.ts), in one device call.
#
# Here: bash scripts/gpu-pack.sh (bundles .gpu/natural-curves.mjs and .gpu/plot-natural-curves.mjs).
# There, from the repo root, with .gl and .gpu carried:
#   source scripts/gpu-env.sh; bash scripts/natural-curves-h200.sh [natural-curves.ts flags ...]
# $OUT gets natural-curves.tgz: the experiment folder (results.json, results.md, plots/*.svg, budget.json,
# the heads files, each run's metrics.jsonl, loss curve and eval.json, driver.log) without weights,
# checkpoints or the probe. If the clock ran out before every chain finished (results.json: finished <
# chains), a second call continues: unpack the tarball into runs/ here (runs/natural-curves/), carry
# runs/natural-curves as well, and run the same command; it keeps budget.json (the same budget for every
# student) and the finished students' evals, and distils only the chains not finished (from their start:
# weights and checkpoints do not fit the 64 MiB a call carries).
#
# BUDGET_S (default 500): the whole script's clock. The driver is sent SIGINT BUDGET_S - 35 s after the
# start (every distill saves after its step and stops, the results so far are written), killed 15 s later;
# the charts and the tarball take the rest. The budget is fitted (--end-by) to the time left after the
# rewrites, the teacher's eval and the probe, up to MARGIN_S (default 45) before that SIGINT.
# TOKENS (e.g. 229376,229376,917504, the 1.38M at which the natural Phi's five-head student kept all its
# retrieval on the CPU): a fixed budget instead; chains not finished by the deadline are left for a later call.
# WORK (default runs/natural-curves), JOBS (default 16). Checked on a CPU with toy settings (a budget.json
# of {"tokens": [2048, 2048, 4096]} written into WORK first, so no probe): DEVICE=cpu JOBS=2 BUDGET_S=900
# bash scripts/natural-curves-h200.sh --seeds 0 --budgets 0.5 --samples 1 --pairs 10,20; then twice more,
# resumed from the unpacked tarball.
set -uo pipefail
start=$(date +%s)
budget=${BUDGET_S:-500}
margin=${MARGIN_S:-45}
work=${WORK:-runs/natural-curves}
out=${OUT:-natural-curves-out}
jobs=${JOBS:-16}
device=${DEVICE:-webgpu}
mkdir -p "$work" "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$work/smi.txt" 2>&1 && cat "$work/smi.txt"

# A budget fitted by an earlier call is kept, so --end-by only matters for the first. The log of every call is kept.
echo "natural-curves-h200: $(date -u +%FT%TZ) $(cat "$work/smi.txt" 2>/dev/null)" >> "$work/driver.log"
stop_at=$((start + budget - 35))
# TOKENS (stage 1,2,3 tokens of a full chain) fixes the budget instead of fitting it to the clock.
if [ -n "${TOKENS:-}" ]; then fit=(--tokens "$TOKENS"); else fit=(--end-by $((stop_at - margin))); fi
timeout -s INT -k 15 $((stop_at - $(date +%s))) node .gpu/natural-curves.mjs --device "$device" --jobs "$jobs" "${fit[@]}" --out "$work" "$@" \
  > "$work/stdout.txt" 2>> "$work/driver.log"
status=$?
echo "natural-curves-h200: driver exit $status after $(($(date +%s) - start)) s" | tee -a "$work/driver.log"
# Stopped at the deadline is an expected end: results.json holds the chains finished so far.
if [ $status -eq 124 ] && [ -f "$work/results.json" ]; then
  echo "natural-curves-h200: stopped at the deadline; run again (see the top of this script) to finish the rest" | tee -a "$work/driver.log"
  status=0
fi
[ -f "$work/results.json" ] && timeout 30 node .gpu/plot-natural-curves.mjs "$work" >> "$work/driver.log" 2>&1
grep -v '^\$ hybridize' "$work/driver.log" | tail -n 25
cat "$work/stdout.txt"
parent=$(dirname "$work")
name=$(basename "$work")
tar czf "$out/natural-curves.tgz" -C "$parent" --exclude='*.safetensors' --exclude=checkpoints --exclude="$name/students" \
  --exclude="$name/probe" --exclude="$name/runs/*/*/student" "$name"
echo "natural-curves-h200: $(du -h "$out/natural-curves.tgz" | cut -f1) in $out/natural-curves.tgz after $(($(date +%s) - start)) s"
exit $status
