#!/usr/bin/env bash
# The main job's recipe variants on the CPU (EXPERIMENTS.md, "The main job on two CPU cores"):
# each variant is recipes/phi-tiny.yaml with its distill section replaced, run whole
# (find-heads, rewrite, distill, eval) under /usr/bin/time -v, and reported as one line: wall and
# CPU (user+sys) seconds, distillation tokens and tokens per CPU-second, and kv-retrieval acc at
# 20 pairs of the teacher and the distilled student (chance 5%). From the repository root, after
# `npm run build`:
#   bash scripts/main-job-cpu.sh [VARIANT...]     (default: every variant below)
# Outputs go under runs/main-job-cpu/<variant>/ (ignored by git); a finished variant is reported
# again without rerunning (the recipe runner skips complete steps, so delete its folder to retime).
set -euo pipefail
root=$(pwd)
base=runs/main-job-cpu
mkdir -p "$base"

# name|distill section (YAML, two-space indent), one per variant. "shipped" is the recipe before
# issue 18; s128-kv75-28-28-112 is recipes/phi-tiny.yaml's since.
variants=(
  "shipped|  mix: kv-retrieval:0.5
  tokens: 24k
  lr: 2e-3
  batch_size: 4
  seq_len: 256"
  "s128-kv50-28-28-112|  mix: kv-retrieval:0.5:pairs=10-20
  tokens: 57344,57344,229376
  lr: 2e-3,2e-3,1e-3
  batch_size: 16
  seq_len: 128"
  "s128-kv75-28-28-112|  mix: kv-retrieval:0.75:pairs=10-20
  tokens: 57344,57344,229376
  lr: 2e-3,2e-3,1e-3
  batch_size: 16
  seq_len: 128"
)

want=("$@")
for v in "${variants[@]}"; do
  name=${v%%|*}
  section=${v#*|}
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
  dir=$base/$name
  mkdir -p "$dir"
  cat > "$dir/recipe.yaml" <<EOF
teacher: fixtures/phi-tiny
out: $dir/out
find_heads:
  task: kv-retrieval
  samples: 20
  pairs: 20
  budget: 5%
  selection: aggregate
rewrite:
  budget: 5%
  mixer: discrete-mamba2
distill:
  data: brown
  stage: all
$section
eval:
  tasks: kv-retrieval
  limit: 10
EOF
  if [ ! -f "$dir/time.txt" ]; then
    /usr/bin/time -v -o "$dir/time.txt" node "$root/bin/run.js" run "$dir/recipe.yaml" --device cpu > "$dir/stdout.txt" 2> "$dir/stderr.txt"
  fi
  node -e '
    const fs = require("fs"), path = require("path")
    const [dir, name] = process.argv.slice(1)
    const time = fs.readFileSync(path.join(dir, "time.txt"), "utf8")
    const num = (re) => { const m = re.exec(time); return m ? m[1] : "?" }
    const wall = num(/Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/)
    const cpu = Number(num(/User time \(seconds\): ([\d.]+)/)) + Number(num(/System time \(seconds\): ([\d.]+)/))
    const metrics = fs.readFileSync(path.join(dir, "out/distill/metrics.jsonl"), "utf8").trim().split("\n").map(JSON.parse)
    const tokens = [1, 2, 3].map((s) => Math.max(0, ...metrics.filter((m) => m.stage === s).map((m) => m.tokens)))
    const acc = {}
    const walk = (d) => { for (const f of fs.readdirSync(d, {withFileTypes: true})) { const p = path.join(d, f.name); if (f.isDirectory()) walk(p); else if (/^results.*\.json$/.test(f.name)) { const r = JSON.parse(fs.readFileSync(p, "utf8")); const m = r.results?.["kv-retrieval"]; if (m) acc[r.model_name ?? p] = m["acc,pairs=20"] } } }
    walk(path.join(dir, "out/eval"))
    console.log([name, "wall " + wall, "cpu " + cpu.toFixed(0) + " s", "tokens " + tokens.join("/"), JSON.stringify(acc)].join(" | "))
  ' "$dir" "$name"
done
