#!/usr/bin/env bash
# `foresight import kineto` and `foresight replay` on a profiled step of the size real
# traces have: two ranks of 100,000 kernels each (24 MB of trace JSON per rank) with an
# all-reduce every hundred kernels, written by Python in PyTorch profiler's format. Prints
# the wall time and peak memory of each, on one core.
# Usage: bash benchmarks/kineto_import.sh [path/to/foresight]
set -euo pipefail
F=${1:-build/release/sim/runner/foresight}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import json, sys
folder = sys.argv[1]
for rank in range(2):
    events, t, correlation = [], 0.0, 0
    for i in range(100000):
        correlation += 1
        events.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": t, "dur": 3, "args": {"correlation": correlation}})
        events.append({"ph": "X", "cat": "kernel", "name": "kernel_%d" % (i % 50), "ts": t + 10, "dur": 20,
                       "args": {"stream": 7, "correlation": correlation}})
        t += 25
        if i % 100 == 99:
            events.append({"ph": "X", "cat": "kernel", "name": "ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "ts": t + 8, "dur": 30,
                           "args": {"stream": 20, "Collective name": "allreduce", "In msg nelems": 1 << 20, "Out msg nelems": 1 << 20,
                                    "dtype": "BFloat16", "Group size": 2, "Process Group Name": "0", "Process Group Ranks": "[0, 1]"}})
            t += 45
    with open("%s/rank%d.json" % (folder, rank), "w") as out:
        json.dump({"distributedInfo": {"rank": rank, "world_size": 2}, "traceEvents": events}, out)
PY
/usr/bin/time -f "import: wall %e s, peak memory %M KB" taskset -c 0 "$F" import kineto --out "$work/graph.json" -- "$work/rank0.json" "$work/rank1.json"
/usr/bin/time -f "replay: wall %e s, peak memory %M KB" taskset -c 0 "$F" replay "$work/graph.json" | head -2
