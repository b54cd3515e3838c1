#!/usr/bin/env bash
# `foresight import chakra` and `foresight replay` on traces of the size real ones have: two
# ranks of 100,000 nodes each (3.4 MB of protobuf per rank), a third of them CPU operators to
# bridge and an all-reduce every hundredth, written by scripts/make_chakra_traces.py's
# encoder. Prints the wall time and peak memory of each, on one core.
# Usage: bash benchmarks/chakra_import.sh [path/to/foresight]
set -euo pipefail
F=${1:-build/release/sim/runner/foresight}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/make_chakra_traces.py --nodes 100000 --out "$work"
/usr/bin/time -f "import: wall %e s, peak memory %M KB" taskset -c 0 "$F" import chakra --out "$work/graph.json" -- "$work/step.0.et" "$work/step.1.et"
/usr/bin/time -f "replay: wall %e s, peak memory %M KB" taskset -c 0 "$F" replay "$work/graph.json" | head -2
