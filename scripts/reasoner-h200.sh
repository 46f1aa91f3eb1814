#!/usr/bin/env bash
# The fixture reasoner's experiment (issue 23 point 4; EXPERIMENTS.md "The fixture reasoner") on the
# GPU machine, in one device call if the teacher trains in time, else two. From the repo root, with
# .gl and .gpu carried (scripts/gpu-pack.sh), and RUN (default runs/reasoner) carried when it exists:
#   source scripts/gpu-env.sh && bash scripts/reasoner-h200.sh
# Steps, each under a `timeout`, all on one device:
#   1. train the teacher (npm run reasoner: dist/fixtures/reasoner-main.js) for at most TEACH_SECONDS
#      (default: what the call has left after steps 2-5's limits, about 135 s), resuming from RUN if
#      an earlier call left a checkpoint there. If the teacher is not finished, or too little of the
#      call is left for steps 2-5, it stops here: $OUT/reasoner-checkpoint.tgz holds the checkpoint;
#      unpack it into RUN (mkdir -p runs/reasoner && tar xzf ... -C runs/reasoner), carry RUN, call again.
#   2. find-heads --task arith-lookup (the numbers the chain of thought copies from the question),
#      --selection aggregate, 2 heads of 48: the heads the hybrid keeps, those whose last-token attention
#      rests most on the sentence the number is copied from (on llama-tiny's kv-retrieval the greedy
#      ablation pair kept the hybrid at chance and the Aggregate pair did not: EXPERIMENTS.md).
#   3. rewrite into the hybrid (those 2 heads) and the pure SSM (no head), discrete Mamba-2 both.
#   4. distill both at once (two processes on the one GPU), stages 1-3 at TOKENS, on the distill
#      split of arith-cot (reasoner.ts: seed 5003, validation and eval prompts taken out).
#   5. eval teacher, hybrid and SSM one after another on arith-cot (eval seed 1234), PROBLEMS problems,
#      --time-budget BUDGETS, BATCH answers at a time, temperature 0.8, top-p 0.95.
#   6, 7. in what the call has left: the teacher's greedy accuracy on the validation seed (5002; never
#      the eval's: the recipe's check), then the three models' greedy answers to the experiment's problems.
#   8. scripts/reasoner-report.mjs: the table for EXPERIMENTS.md and where each student crosses the teacher.
# $OUT gets reasoner.log, reasoner-results.tgz (metrics, heads, eval results and charts; no weights)
# and reasoner-checkpoint.tgz (the teacher, BF16, and its optimizer state). DRY=1: the same steps at
# toy sizes on the CPU, to check the script here.
set -uo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
out=${OUT:-reasoner-out}
run=${RUN:-runs/reasoner}
limit=${LIMIT:-510}
device=${DEVICE:-webgpu}
distill_limit=${DISTILL_SECONDS:-120}
budgets=${BUDGETS:-5s,10s,20s,40s}
problems=${PROBLEMS:-100}
batch=${BATCH:-32}
tokens=${TOKENS:-163840,163840,655360}
distill_shape=(--seq-len 256 --batch-size 16 --lr 2e-3,2e-3,1e-3)
train_flags=()
heads_samples=100
validation=50
max_gen=192
if [ "${DRY:-0}" = 1 ]; then
  device=cpu budgets=1s,2s problems=3 batch=2 tokens=1024,1024,1024 heads_samples=4 validation=2 max_gen=24
  distill_shape=(--seq-len 64 --batch-size 2)
  train_flags=(--steps 3 --rows 2 --text-rows 1 --corpus 200 --config '{"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,"head_dim":4}')
fi
# BUDGETS in seconds, ascending: the last is the largest.
largest=${budgets##*,}
largest=${largest%s}
# What the steps after training take at most: find-heads, rewrites, distillation, and three models'
# eval (each its largest budget, plus loading and warm-up). The greedy figures come after, in what is left.
needed=$((40 + 30 + distill_limit + 3 * (largest + 15)))
# By default the teacher trains for what the call has left after those.
teach=${TEACH_SECONDS:-$((limit - needed - 20))}
[ "$teach" -ge 0 ] || teach=0
# TRAIN_FLAGS: more reasoner-main flags (--steps N, --rows N), e.g. to change the recipe after a validation figure.
read -ra extra <<< "${TRAIN_FLAGS:-}"
train_flags+=("${extra[@]}")
mkdir -p "$out/logs" "$run"
log() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$out/reasoner.log" >&2; }
left() { echo $((limit - ($(date +%s) - t0))); }
# A timeout that ends 20 s before the call's limit (at least 1 s: `timeout 0` would wait forever).
rest() { local n=$(($(left) - 20)); echo $((n > 1 ? n : 1)); }
json() { node -p "const r = require(require('path').resolve('$1')); $2" 2>/dev/null; }
# What comes back: the teacher's checkpoint (as soon as it is trained: a call cut short still returns
# it), and everything else but weights and distillation checkpoints.
pack_checkpoint() { tar czf "$out/reasoner-checkpoint.tgz" -C "$run" teacher optimizer.safetensors 2>/dev/null; }
pack_results() {
  tar czf "$out/reasoner-results.tgz" --exclude='*.safetensors' --exclude=checkpoints --exclude=distill-corpus.jsonl \
    --exclude='tokenizer*.json' -C "$run" . -C "$(cd "$out" && pwd)" logs 2>/dev/null
}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out/logs/smi.txt" 2>/dev/null || true

log "1. teacher: at most $teach s of training"
timeout $((teach + 60)) node dist/fixtures/reasoner-main.js --out "$run" --device "$device" --deadline "$teach" "${train_flags[@]}" >> "$out/logs/train.log" 2>&1
log "training exited with $?: $(tail -n 1 "$out/logs/train.log")"
pack_checkpoint
done=$(json "$run/teacher/training.json" 'r.done')
if [ "$done" != true ] || [ "$(left)" -lt "$needed" ]; then
  log "stopping before distillation (teacher finished: ${done:-no}; $(left) s left, $needed s needed): unpack reasoner-checkpoint.tgz into $run and call again"
  pack_results
  exit 0
fi

log "2. find-heads on arith-lookup"
timeout 40 node bin/run.js find-heads --device "$device" "$run/teacher" --task arith-lookup --samples "$heads_samples" --selection aggregate --top-k 2 --seed 0 --out "$run/heads.json" --force > "$out/logs/find-heads.txt" 2>&1 || log "find-heads failed: $(tail -n 1 "$out/logs/find-heads.txt")"

log "3. rewrite: hybrid (2 heads) and pure SSM"
timeout 15 node bin/run.js rewrite "$run/teacher" --heads "$run/heads.json" --keep 2 --out "$run/hybrid" --force -q >> "$out/logs/rewrite.log" 2>&1
timeout 15 node bin/run.js rewrite "$run/teacher" --heads "$run/heads.json" --budget 0 --out "$run/ssm" --force -q >> "$out/logs/rewrite.log" 2>&1

log "4. distill both at once, tokens $tokens"
for student in hybrid ssm; do
  rm -rf "$run/distill-$student"
  timeout "$distill_limit" node bin/run.js distill "$run/$student" --teacher "$run/teacher" --data "$run/distill-corpus.jsonl" \
    --tokens "$tokens" "${distill_shape[@]}" --seed 0 --out "$run/distill-$student" --device "$device" -q > "$out/logs/distill-$student.log" 2>&1 &
done
wait
for student in hybrid ssm; do log "distill $student: $(tail -n 1 "$out/logs/distill-$student.log")"; done

log "5. eval under the time budgets $budgets: teacher, hybrid, SSM ($(left) s left)"
models=("$run/teacher")
for student in hybrid ssm; do [ -e "$run/distill-$student/student/config.json" ] && models+=("$run/distill-$student/student"); done
timeout "$(rest)" node bin/run.js eval --device "$device" "${models[@]}" --tasks arith-cot --limit "$problems" --time-budget "$budgets" --batch-size "$batch" \
  --temperature 0.8 --top-p 0.95 --max-gen-toks "$max_gen" --output-path "$run/eval" --json > "$run/eval.json" 2>> "$out/logs/eval.log"
log "eval exited with $?"
pack_results

# The greedy figures, in what the call has left: the teacher on the validation seed (the recipe's
# check), then all three on the experiment's problems.
if [ "$(left)" -gt 60 ]; then
  log "6. teacher's greedy accuracy on $validation validation problems (seed 5002)"
  timeout "$(rest)" node bin/run.js eval --device "$device" "$run/teacher" --tasks arith-cot --seed 5002 --limit "$validation" --max-gen-toks "$max_gen" --json > "$run/validation.json" 2>> "$out/logs/eval.log"
  log "validation: greedy exact_match $(json "$run/validation.json" "r.models[0].results[0].metrics['exact_match,score-first']")"
fi
if [ "$(left)" -gt 90 ]; then
  log "7. greedy exact match on the same $problems problems, $(left) s left"
  timeout "$(rest)" node bin/run.js eval --device "$device" "${models[@]}" --tasks arith-cot --limit "$problems" \
    --max-gen-toks "$max_gen" --output-path "$run/eval-greedy" --json > "$run/eval-greedy.json" 2>> "$out/logs/eval.log"
  log "greedy eval exited with $?"
fi
# EXPERIMENTS.md's table and the crossovers.
node scripts/reasoner-report.mjs "$run" > "$run/report.md" 2>> "$out/reasoner.log"
tee -a "$out/reasoner.log" < "$run/report.md"
pack_results
log done
