#!/usr/bin/env bash
# Issue 4's sweep target: 100 parallel layouts of a 70B model in under 60 s on a 2-core
# machine. Runs Llama-3-70B on 64 H100 (8 nodes) for every TP x PP x schedule x
# micro-batch combination below, one `foresight run` each, one at a time, and reports
# how many ran, how many the scenario checks refused (exit 2), and the wall time.
# Usage: bash benchmarks/sweep_70b_layouts.sh [path/to/foresight]
set -euo pipefail
F=${1:-build/release/sim/runner/foresight}
SCENARIO=$(dirname "$0")/../scenarios/llama3_70b_pp4.json
ran=0 refused=0
start=$(date +%s%N)
for tp in 1 2 4 8; do
  for pp in 1 2 4 8; do
    for schedule in 1f1b zb_h1 interleaved_1f1b gpipe; do
      [[ $pp == 1 && $schedule != 1f1b ]] && continue
      for mb in 1 2; do
        dp=$((64 / (tp * pp)))
        chunks=1; [[ $schedule == interleaved_1f1b ]] && chunks=2
        set +e
        out=$("$F" run "$SCENARIO" --set hardware.topology.nodes=8 --set training.global_batch=128 \
              --set training.micro_batch=$mb --set training.parallel.tp=$tp --set training.parallel.dp=$dp \
              --set training.parallel.pp=$pp --set training.parallel.schedule=$schedule \
              --set training.parallel.virtual_stages=$chunks --set training.parallel.sequence_parallel=$([[ $tp -gt 1 ]] && echo true || echo false) \
              --set training.recompute=full 2>/dev/null)
        status=$?
        set -e
        if [[ $status == 0 ]]; then
          ran=$((ran + 1))
          step=$(awk '/^  step time/ {print $3, $4; exit}' <<<"$out")
          printf '%-48s %s\n' "tp $tp pp $pp dp $dp $schedule mb $mb" "$step"
        else
          refused=$((refused + 1))
        fi
      done
    done
  done
done
end=$(date +%s%N)
elapsed_ms=$(((end - start) / 1000000))
echo "ran $ran layouts, $refused refused by the scenario checks, in $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s"
