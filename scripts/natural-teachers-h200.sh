#!/usr/bin/env bash
# Natural fixture teachers (issue 21, point 1): a sweep of Llama and Phi variants trained from scratch with
# next-token losses only, no attention guide and no head map, all at once on one GPU, in one device call.
# Each variant is a PyTorch process (scripts/train-natural-teacher.py, VARIANTS there) fed by the project's own
# TypeScript data code through a pipe (scripts/natural-teacher-data.ts, bundled to .gpu/ by scripts/gpu-pack.sh),
# scored every 250 steps by exact match on kv-retrieval with HELD-OUT keys at 10, 20 and 40 pairs.
#
# Here: bash scripts/gpu-pack.sh. There, from the repo root, with .gl and .gpu carried:
#   source scripts/gpu-env.sh && bash scripts/natural-teachers-h200.sh [VARIANT ...]
# (no VARIANT: all of them; VARIANT_sN is VARIANT with another seed N, for data and init). To continue variants in
# a later call, unpack that call's resume-VARIANT.tar files (cat the .partN files first) into a folder of the repo
# that .git/info/exclude ignores, carry it, and:
#   source scripts/gpu-env.sh && RESUME_FROM=.natural-resume bash scripts/natural-teachers-h200.sh VARIANT ...
# A variant with RESUME_FROM/VARIANT/state-stable.pt continues its stable phase from there and decays at the end
# of this call; one without starts afresh.
# $OUT gets (natural-teachers-pack.py): summary.json, logs.tgz, and for the best variants best-VARIANT.tgz (a
# transformers folder, bf16) and resume-VARIANT.tar; the summary table is printed last.
# BUDGET_S (default 480) is the whole call's clock: preparing the data, training, the last evaluations, packing.
# EXTRA_ARGS: more train-natural-teacher.py flags for every variant (a tiny --override to check this script on a CPU;
# split at spaces).
set -uo pipefail
start=$(date +%s)
budget=${BUDGET_S:-480}
out=${OUT:-natural-out}
work=${WORK:-/tmp/natural-teachers}
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(phi llama llama-theta1m llama-hd32 llama-lr3e-3 llama-mqar llama-theta1m-text llama-theta1m-big)
rm -rf "$work" && mkdir -p "$work/runs" "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$work/runs/smi.txt" 2>&1
cat "$work/runs/smi.txt"

timeout 150 node .gpu/natural-teacher-data.mjs prepare "$work/data" || { echo "natural-teachers: preparing the data failed" >&2; exit 1; }
# Training ends 60 s before the budget: the trainers keep 25 s for their last evaluation and saves, the packing the rest.
end_at=$((start + budget - 60))
echo "natural-teachers: data ready after $(($(date +%s) - start)) s; training until $((end_at - start)) s" >&2
for v in "${variants[@]}"; do
  resume=()
  if [ -n "${RESUME_FROM:-}" ] && [ -f "$RESUME_FROM/$v/state-stable.pt" ]; then resume=(--resume "$RESUME_FROM/$v/state-stable.pt"); fi
  echo "natural-teachers: $v ${resume[*]:-(from scratch)}" >&2
  OMP_NUM_THREADS=1 timeout -k 5 $((end_at - $(date +%s) + 30)) \
    python3 scripts/train-natural-teacher.py "$v" --data "$work/data" --out "$work/runs/$v" --end-at "$end_at" "${resume[@]}" ${EXTRA_ARGS:-} \
    > "$work/runs/$v.log" 2>&1 &
done
wait
for v in "${variants[@]}"; do tail -n 2 "$work/runs/$v.log"; done
python3 scripts/natural-teachers-pack.py "$work/runs" "$out"
echo "natural-teachers: done after $(($(date +%s) - start)) s" >&2
