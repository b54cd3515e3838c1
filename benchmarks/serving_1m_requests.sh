#!/usr/bin/env bash
# Issue 5's serving speed target: 1,000,000 requests of the Azure conversation trace's
# shape on 16 replicas of Llama-3-70B (TP 4, continuous batching, prefix cache on) in
# under 10 s on one core. Prints the run's summary and the wall time and peak memory of the simulator.
# Usage: bash benchmarks/serving_1m_requests.sh [path/to/foresight]
set -euo pipefail
F=${1:-build/release/sim/runner/foresight}
SCENARIO=$(dirname "$0")/../scenarios/llama3_70b_16_replicas_1m.json
/usr/bin/time -f "wall %e s, peak memory %M KB" taskset -c 0 "$F" run "$SCENARIO"
