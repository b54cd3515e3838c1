#!/usr/bin/env bash
# Issue 5's capacity-search target: the highest request rate within SLOs for 50 serving
# configurations in under 60 s. Two schedulers x five batch limits x five chunk sizes of
# Llama-3-70B on two TP-4 replicas, replaying 2,000 requests of the Azure conversation trace.
# Usage: bash benchmarks/capacity_50_configurations.sh [path/to/foresight]
set -euo pipefail
F=${1:-build/release/sim/runner/foresight}
SCENARIO=$(dirname "$0")/../scenarios/llama3_70b_serving_azure_conv.json
/usr/bin/time -f "wall %e s, peak memory %M KB" taskset -c 0 "$F" capacity "$SCENARIO" --slo ttft_p99=2s,tpot_p99=100ms \
  --vary serving.scheduler=vllm,sarathi --vary serving.max_num_seqs=32,64,128,256,512 \
  --vary serving.chunk_size=256,512,1024,2048,4096
