# Sourced at the start of every GPU-machine command (after scripts/gpu-pack.sh here, with .gl and .gpu carried):
# unpacks the loaders, Node, dawn.node, the CLI's dependencies, dist/ and the bundles, and points Vulkan and EGL at
# NVIDIA's driver.
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -dc .gpu/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
if [ ! -e node_modules/.gpu-unpacked ]; then
  tar xJf .gpu/cli-node_modules.tar.xz
  rm -rf node_modules/webgpu && cp -r .gpu/webgpu node_modules/webgpu
  mkdir -p node_modules/webgpu/dist/linux-x64
  xz -dc .gpu/dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node
  touch node_modules/.gpu-unpacked
fi
tar xJf .gpu/js.tar.xz
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
