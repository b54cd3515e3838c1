#!/usr/bin/env bash
# NeMo 2.0's DeepSeek-V3 recipe as `foresight import nemo` reads it: 1,024 H100 (128 nodes),
# TP 2 x PP 16 x EP 64 over DP 32, every MoE layer's all-to-all across its stage's 8 nodes on
# the flow network. One `foresight run` per global batch given (default: 128 and 512
# sequences, 4 and 16 micro-batches per pipeline; the recipe's own 4,096 takes minutes),
# on one core, with wall time and peak memory.
# Usage: bash benchmarks/deepseek_v3_nemo_1024.sh [path/to/foresight] [global batch ...]
set -euo pipefail
F=${1:-build/release/sim/runner/foresight}
shift || true
batches=("${@:-128 512}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$F" import nemo --gpu h100_sxm --out "$work/dsv3.json" -- nemo llm pretrain --factory deepseek_v3 >/dev/null
for batch in ${batches[@]}; do
  /usr/bin/time -o "$work/time" -f "wall %e s, peak memory %M KB" taskset -c 0 "$F" run "$work/dsv3.json" \
    --set training.global_batch="$batch" > "$work/out" 2>/dev/null
  printf 'global batch %-5s step %-10s %s\n' "$batch" "$(awk '/^  step time/ {print $3, $4}' "$work/out")" "$(cat "$work/time")"
done
