# Sourced by the GPU-machine scripts that time a pipeline step by step (real-pipeline-h200.sh, mixed-h200.sh).
# Needs $out (the results folder). `step NAME TIMEOUT_S COMMAND...` runs one step bounded by a timeout, so one
# failing step still leaves the others' figures: its output appended to $out/pipeline.log, its line (exit status,
# seconds, peak GPU MiB sampled by nvidia-smi every 100 ms) to $out/steps.tsv. `hybrid_of TEACHER DIR` makes the
# 2 % discrete-Mamba-2 hybrid of TEACHER in DIR/hybrid (find-heads by attention pattern, then rewrite) as two steps,
# on $device (default webgpu; cpu to try a script's logic on a fixture), find-heads on $samples samples (default 8).
# Optional: $deadline (epoch seconds: no step runs past it, one that cannot get 10 s is skipped) and $profiles (a
# folder: each step runs with HYBRIDIZE_PROFILE=$profiles/<step>.json).
mkdir -p "$out"
[ -e "$out/steps.tsv" ] || printf 'step\texit\tseconds\tpeak_gpu_mib\n' > "$out/steps.tsv"

step() {  # step NAME TIMEOUT_S COMMAND...
  local name=$1 limit=$2; shift 2
  if [ -n "${deadline:-}" ]; then
    local left=$((deadline - $(date +%s)))
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -lt 10 ]; then printf '%s\tskipped (deadline)\t0\t0\n' "$name" | tee -a "$out/steps.tsv"; return; fi
  fi
  local profile=(); [ -n "${profiles:-}" ] && profile=(env "HYBRIDIZE_PROFILE=$profiles/$name.json")
  echo "== $name: $*" >> "$out/pipeline.log"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > /tmp/mem.csv & local smi=$!
  SECONDS=0
  timeout "$limit" "${profile[@]}" "$@" >> "$out/pipeline.log" 2>&1; local rc=$?
  local s=$SECONDS; kill $smi 2>/dev/null; wait $smi 2>/dev/null
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$s" "$(sort -n /tmp/mem.csv | tail -1)" | tee -a "$out/steps.tsv"
  tail -n 3 "$out/pipeline.log"
}

hybrid_of() {  # hybrid_of TEACHER DIR [FIND_HEADS_TIMEOUT_S]
  step find-heads "${3:-120}" node bin/run.js find-heads "$1" --samples "${samples:-8}" --pairs 10 --budget 2% --selection aggregate --out "$2/heads.json" --device "${device:-webgpu}"
  step rewrite 60 node bin/run.js rewrite "$1" --heads "$2/heads.json" --budget 2% --mixer discrete-mamba2 --out "$2/hybrid"
}
