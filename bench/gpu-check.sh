#!/usr/bin/env bash
# Checks the llama evaluation backend on CUDA and Vulkan against the exact CPU run (tokens/s and letter-
# probability deviation). Run it on a machine with a GPU, after adding llama.cpp's GPU binaries:
#   npm install --no-save @node-llama-cpp/linux-x64-cuda@3.21.1 @node-llama-cpp/linux-x64-cuda-ext@3.21.1
#   npm install --no-save @node-llama-cpp/linux-x64-vulkan@3.21.1
# Untested here: the development machine has no GPU. Options: see bench/gpu-check.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec npx tsx bench/gpu-check.ts "$@"
