#!/usr/bin/env bash
# Issue 7's sweep targets on a 2-core machine:
#  1. 1,000 training layouts of Llama-3-70B on 1,024 H100 (TP x PP x micro-batch x
#     schedule x recompute, scenarios/sweeps/llama3_70b_1024_layouts.json) in under 2
#     minutes, on every core;
#  2. near-linear speed-up from 1 to 2 MPI ranks (one thread each), on 200 of them, and on 18
#     whose last dimension (micro-batch 1 or 8) changes the cost in step with the ranks.
# Usage: bash benchmarks/sweep_1000_layouts.sh [path/to/foresight]
set -euo pipefail
cd "$(dirname "$0")/.."
F=${1:-build/release/sim/runner/foresight}
mkdir -p out

seconds() { local ms=$((($(date +%s%N) - $1) / 1000000)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

start=$(date +%s%N)
"$F" sweep --spec scenarios/sweeps/llama3_70b_1024_layouts.json --quiet --out out/sweep_1000_layouts.csv > out/sweep_1000_layouts.txt
head -1 out/sweep_1000_layouts.txt
echo "1,000 layouts on $(nproc) cores: $(seconds "$start") s (target: under 120 s)"

if ! command -v mpirun > /dev/null; then
  echo "mpirun not installed: MPI speed-up not measured"
  exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # CI containers run as root
layouts=(scenarios/llama3_70b_pp4.json --set hardware.topology.nodes=128 --set training.global_batch=2048
         --set training.parallel.dp=auto --set training.parallel.sequence_parallel=true
         --grid training.parallel.tp=1,2,4,8 --grid training.parallel.pp=1,2,4,8,16 --grid training.micro_batch=1,2,4,8,16
         --grid training.parallel.schedule=1f1b,zb_h1 --quiet --threads 1)
for ranks in 1 2; do
  start=$(date +%s%N)
  mpirun -np $ranks --oversubscribe "$F" sweep "${layouts[@]}" --out out/sweep_200_ranks$ranks.csv > /dev/null
  echo "200 layouts, $ranks MPI rank(s) x 1 thread: $(seconds "$start") s"
done
cmp -s out/sweep_200_ranks1.csv out/sweep_200_ranks2.csv && echo "the two runs wrote identical tables"
uneven=(scenarios/llama3_70b_pp4.json --set hardware.topology.nodes=128 --set training.global_batch=2048
        --set training.parallel.dp=auto --set training.parallel.sequence_parallel=true
        --grid training.parallel.tp=2,4,8 --grid training.parallel.pp=2,4,8 --grid training.micro_batch=1,8 --quiet --threads 1)
for ranks in 1 2; do
  start=$(date +%s%N)
  mpirun -np $ranks --oversubscribe "$F" sweep "${uneven[@]}" --out out/sweep_18_ranks$ranks.csv > /dev/null
  echo "18 layouts of uneven cost, $ranks MPI rank(s) x 1 thread: $(seconds "$start") s"
done
