#!/usr/bin/env bash
# README command 1: install what is missing, build, and predict one training step of the
# built-in default scenario (Llama-3-8B on one 8x H100 node). Writes the results and a
# Perfetto trace to out/. Extra arguments go to `foresight run` (e.g. --set key=value).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh release --target foresight
mkdir -p out
build/release/sim/runner/foresight run --out out/results.json --trace out/trace.json "$@"
