#!/usr/bin/env bash
# Issue 20's search target on a 2-core machine: the 1,000-layout question (Llama-3-70B on
# 1,024 H100, scenarios/sweeps/llama3_70b_1024_layouts.json) answered within 1% of the
# exhaustive optimum in at most 10 s. Runs `foresight search`, then the exhaustive `sweep`
# of the same file, and compares their best points.
# Usage: bash benchmarks/search_1000_layouts.sh [path/to/foresight]
set -euo pipefail
cd "$(dirname "$0")/.."
F=${1:-build/release/sim/runner/foresight}
SPEC=scenarios/sweeps/llama3_70b_1024_layouts.json
mkdir -p out

seconds() { local ms=$((($(date +%s%N) - $1) / 1000000)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

start=$(date +%s%N)
"$F" search --spec "$SPEC" --quiet --out out/search_1000_layouts.json > out/search_1000_layouts.txt
search_seconds=$(seconds "$start")
sed -n '1,7p' out/search_1000_layouts.txt
echo "search: $search_seconds s on $(nproc) cores (target: 10 s)"

start=$(date +%s%N)
"$F" sweep --spec "$SPEC" --quiet --out out/sweep_1000_layouts.json > /dev/null
echo "exhaustive sweep: $(seconds "$start") s"

python3 - <<'PY'
import json
search = json.load(open("out/search_1000_layouts.json"))
sweep = json.load(open("out/sweep_1000_layouts.json"))
def best(doc):
    row = next(r for r in doc["rows"] if r["index"] == doc["best"][0])
    return row["metrics"]["tokens_per_s"], " ".join(row["set"])
found, exhaustive = best(search), best(sweep)
print(f"search's best:     {found[0]:,.0f} tokens/s  {found[1]}")
print(f"exhaustive best:   {exhaustive[0]:,.0f} tokens/s  {exhaustive[1]}")
print(f"gap: {100 * (1 - found[0] / exhaustive[0]):.3f}% (target: within 1%)")
PY
